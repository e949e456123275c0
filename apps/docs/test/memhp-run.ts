/** A log memhp itself wrote, for the viewer's tests: `memhp run` from source (what `pnpm memhp` runs). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

/** Runs `memhp run <scenario> -o <out>` (a `.gz` out is a gzip log); throws with the CLI's stderr if it wrote no log. */
export function recordLog(scenario: string, out: string): void {
  const r = spawnSync(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', join(repo, 'packages/cli/src/bin.ts'), 'run', scenario, '-o', out], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (!existsSync(out)) throw new Error(`memhp run wrote no log (exit ${r.status}): ${r.stderr}`);
}
