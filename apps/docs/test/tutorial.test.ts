/**
 * The backend tutorial (guides/arch-backend.md) works for an author outside this repository: its package is built
 * from the page's own files — every block marked `<!-- doc-test: file <path> -->`, and `<<< @/…` includes the
 * page renders — in a temporary directory outside the workspace, @memhp/core, @memhp/events and
 * @memhp/arch-testkit are packed into tarballs as getting started says, and the page's install/build/test block
 * (`<!-- doc-test: tutorial -->`) runs as written (only the tarball directory is this run's own). The kit must pass.
 * Needs built packages (CI builds first) and the npm registry for typescript and vitest.
 * Cost: three `pnpm pack`s, one npm install (typescript, vitest and the tarballs), tsc and the kit — about a minute.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const PAGE = join(docsDir, 'guides/arch-backend.md');

/** The files and the command block the page declares. */
export function tutorialOf(text: string): { files: Map<string, string>; commands: string } {
  const lines = text.split('\n');
  const files = new Map<string, string>();
  let commands = '';
  for (let i = 0; i < lines.length; i++) {
    const d = /<!--\s*doc-test:\s*(file\s+(\S+)|tutorial)\s*-->/.exec(lines[i]!);
    if (!d) continue;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    const line = lines[j] ?? '';
    let body: string;
    const include = /^<<<\s+@\/(\S+)/.exec(line);
    if (include) body = readFileSync(resolve(docsDir, include[1]!), 'utf8');
    else {
      const fence = /^(`{3,})/.exec(line);
      if (!fence) throw new Error(`arch-backend.md:${j + 1}: a doc-test directive must precede a code block or a <<< include`);
      const out: string[] = [];
      for (j++; j < lines.length && !lines[j]!.startsWith(fence[1]!); j++) out.push(lines[j]!);
      body = out.join('\n') + '\n';
    }
    if (d[2]) files.set(d[2], body);
    else commands = body;
  }
  return { files, commands };
}

const work = mkdtempSync(join(tmpdir(), 'memhp-tutorial-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the backend tutorial, followed outside the repository', () => {
  const { files, commands } = tutorialOf(readFileSync(PAGE, 'utf8'));

  it('declares a whole package: package.json, tsconfig.json, vitest config, the backend and its test, and the commands', () => {
    expect([...files.keys()].sort()).toEqual(['package.json', 'src/index.ts', 'test/conformance.test.ts', 'tsconfig.json', 'vitest.config.ts']);
    expect(commands).toMatch(/npm test/);
    // Nothing in the package reaches back into the monorepo.
    for (const [name, body] of files) expect(body, name).not.toMatch(/workspace:|\.\.\/\.\.\/|tsconfig\.base|vitest\.shared/);
  });

  it('builds and passes the conformance kit against packed tarballs', () => {
    expect(existsSync(join(repoDir, 'packages/core/dist/index.js')), 'build first: pnpm turbo run build').toBe(true);
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    for (const p of ['core', 'events', 'arch-testkit']) {
      const r = spawnSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(repoDir, 'packages', p), encoding: 'utf8', timeout: 120_000 });
      expect(r.status, `pnpm pack ${p}: ${r.stderr}`).toBe(0);
    }
    expect(readdirSync(tarballs).length).toBe(3);
    const pkg = join(work, 'memhp-arch-riscv64');
    for (const [name, body] of files) {
      mkdirSync(dirname(join(pkg, name)), { recursive: true });
      writeFileSync(join(pkg, name), body);
    }
    const script = `set -euo pipefail\n${commands.replaceAll('/tmp/memhp-tarballs', tarballs)}`;
    const env = { ...process.env, npm_config_update_notifier: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };
    // Outside the workspace: no pnpm-workspace.yaml above it, so npm and node see only this package.
    expect(pkg.startsWith(repoDir)).toBe(false);
    const r = spawnSync('bash', ['-c', script], { cwd: pkg, env, encoding: 'utf8', timeout: 540_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    expect(existsSync(join(pkg, 'dist/index.js'))).toBe(true);
    const passed = /Tests\s+(\d+) passed/.exec(out);
    expect(passed, out.slice(-2000)).not.toBeNull();
    expect(out).not.toMatch(/Tests\s+.*\d+ failed/);
    expect(Number(passed![1])).toBeGreaterThan(20);
  }, 600_000);
});
