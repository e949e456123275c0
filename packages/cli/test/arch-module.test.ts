/**
 * A third-party backend loaded with --arch-module (the riscv64 example written only against core's public
 * interface), and the self-contained log it records: it replays without the backend.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FIXTURES, memhp, memhpInProcess, REPO, tmp } from './helpers.js';

const MODULE = join(REPO, 'examples/arch-riscv64/src/index.ts');
const SCENARIO = join(FIXTURES, 'scenarios/riscv64.yaml');

describe('--arch-module', () => {
  it('runs a scenario on a backend from a module, and its log replays without that module', async () => {
    const log = join(tmp(), 'rv.ndjson');
    const r = await memhp(['--arch-module', MODULE, 'run', SCENARIO, '-o', log, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { arch: string; final: unknown };
    expect(j.arch).toBe('riscv64');
    const rep = await memhpInProcess(['replay', log, '--report', 'final', '--json']);
    expect(rep.code, rep.stderr).toBe(0);
    expect((JSON.parse(rep.stdout) as { final: unknown }).final).toEqual(j.final);
  });

  it('merges the kernels that answer the same for a third-party arch in check --kernel all', async () => {
    const r = await memhpInProcess(['--arch-module', MODULE, 'check', 'memmap-on-memory', '--arch', 'riscv64', '--kernel', 'all']);
    // One row per run of series with the same verdict and reasons: the example backend does not enable
    // memmap_on_memory in any series it supports, so they share one row (a header, then that row).
    const lines = r.stdout.trim().split('\n');
    expect(lines.length, r.stdout).toBe(2);
    expect(lines[1]).toMatch(/^ 6\.11–6\.18 +no .*riscv64 does not enable memmap_on_memory in this kernel/);
  });

  it('without the module the arch is unknown, named at its line', async () => {
    const r = await memhpInProcess(['run', SCENARIO]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/riscv64\.yaml:4:9: field machine\.arch: unknown architecture "riscv64"/);
  });

  it('rejects a module that exports no backend', async () => {
    const r = await memhpInProcess(['--arch-module', join(REPO, 'packages/cli/src/parse/size.ts'), 'archs']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exports no arch backend/);
  });
});
