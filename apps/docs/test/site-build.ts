/**
 * Builds the site once per test run (the browser test needs apps/docs/.vitepress/dist), unless a build newer than
 * every input already exists — CI's `turbo run build` has just made one. Set MEMHP_DOCS_REBUILD=1 to force.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const distIndex = join(docsDir, '.vitepress/dist/index.html');
const SKIP = new Set(['node_modules', 'dist', 'cache', 'test-results', 'reference', '.turbo', 'test', '.doc-test', 'figures', 'examples']);

/** Newest modification time of the files under `dir`, skipping outputs. */
function newest(dir: string): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function inputsTime(): number {
  let t = newest(docsDir);
  for (const pkg of readdirSync(join(repoDir, 'packages'))) t = Math.max(t, newest(join(repoDir, 'packages', pkg, 'src')));
  return Math.max(t, newest(join(repoDir, 'examples/scenarios')));
}

/** Builds the site unless a fresh build exists; called once per run from the browser test's beforeAll. */
export function ensureSiteBuilt(): void {
  const fresh = existsSync(distIndex) && statSync(distIndex).mtimeMs > inputsTime();
  if (fresh && !process.env.MEMHP_DOCS_REBUILD) return;
  // turbo builds the packages the site bundles first (dependsOn ^build) and caches them.
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@memhp/docs', '--output-logs=errors-only'], {
    cwd: repoDir,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  if (r.status !== 0) throw new Error(`building the docs site failed (exit ${r.status}); run: pnpm exec turbo run build --filter=@memhp/docs`);
}
