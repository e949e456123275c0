import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { toJson, wantColor } from '../src/render/output.js';
import { REPO } from './helpers.js';
import { COMMAND_MODULE_NAMES } from '../src/command-names.js';

describe('presentation', () => {
  const tty = { isTTY: true } as NodeJS.WriteStream;
  const pipe = { isTTY: false } as NodeJS.WriteStream;

  it('colours only a TTY, and never with NO_COLOR', () => {
    expect(wantColor(tty, {})).toBe(true);
    expect(wantColor(pipe, {})).toBe(false);
    expect(wantColor(tty, { NO_COLOR: '1' })).toBe(false);
  });

  it('writes bigints as exact numbers when safe and as decimal strings beyond 2^53', () => {
    expect(JSON.parse(toJson({ a: 2097152n, b: 1n << 60n }))).toEqual({ a: 2097152, b: '1152921504606846976' });
  });
});

const DIST = join(REPO, 'packages/cli/dist/bin.js');

describe.runIf(existsSync(DIST))('the built binary (dist/bin.js)', () => {
  it('starts with a node shebang and answers --version and check hvo', () => {
    const v = spawnSync(process.execPath, [DIST, '--version'], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = spawnSync(process.execPath, [DIST, 'check', 'hvo', '--json'], { encoding: 'utf8' });
    expect(h.status, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout)).toMatchObject({ vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 7 }); // apps/docs/kernel/hvo.md#sizes
  });
});

const BUNDLED = join(REPO, 'packages/cli/dist/memhp.cjs');
const LAUNCHER = join(REPO, 'packages/cli/bin/memhp.cjs');

describe.runIf(existsSync(BUNDLED))('the built binary: one bundle per command module (dist/memhp-<module>.cjs)', () => {
  const run = (args: readonly string[], bin = BUNDLED) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('registers every command of its module in the bundle argv picks: `memhp <name> --help` answers for each name', () => {
    for (const names of Object.values(COMMAND_MODULE_NAMES)) {
      for (const name of names) {
        const r = run([name, '--help']);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`Usage: memhp ${name} `);
      }
    }
  });

  it('lists every command for help, and suggests one for an unknown name with exit 2, from the bundle of all', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const name of Object.values(COMMAND_MODULE_NAMES).flat()) expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    const typo = run(['plann']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean plan\?/);
  });

  it('is what the launcher (bin/memhp.cjs) runs', () => {
    const v = run(['--version'], LAUNCHER);
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(run(['--version']).stdout);
    const p = run(['plan', 'hot-add', '--size', '128M', '--json'], LAUNCHER);
    expect(p.status, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ blocks: 1 }); // 128 MiB is one x86_64 memory block when boot RAM ends below 64 GiB (apps/docs/kernel/hotplug.md#memory-blocks)
  });
});
