import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { toJson, wantColor } from '../src/render/output.js';
import { REPO } from './helpers.js';

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
