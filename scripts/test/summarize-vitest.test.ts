/**
 * The CI line from real vitest runs of tiny fixture projects (test/fixtures/*): tests that did not run because a
 * hook or their file failed count as failed, skipped tests are shown, and the line agrees with vitest's exit status.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const vitestBin = join(repo, 'node_modules', 'vitest', 'vitest.mjs');
const summarize = join(repo, 'scripts', 'summarize-vitest.mjs');
const out = mkdtempSync(join(tmpdir(), 'memhp-summary-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The environment of a fresh vitest: none of this run's worker variables. */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'TEST'));

const runs = new Map<string, { status: number; line: string; notes: string }>();

/** Runs vitest on one fixture project (once), then the summary script on its JSON report, as scripts/test.sh does. */
function runFixture(name: string): { status: number; line: string; notes: string } {
  const done = runs.get(name);
  if (done) return done;
  const root = join(here, 'fixtures', name);
  const json = join(out, `${name}.json`);
  const v = spawnSync(process.execPath, [vitestBin, 'run', '--root', root, '--reporter=json', `--outputFile.json=${json}`], {
    cwd: root,
    env: { ...cleanEnv(), NO_COLOR: '1', CI: 'true' },
    encoding: 'utf8',
    timeout: 50_000,
  });
  expect(v.error).toBeUndefined();
  const s = spawnSync(process.execPath, [summarize, json, '--exit-code', String(v.status)], { encoding: 'utf8' });
  expect(s.status).toBe(0);
  const r = { status: v.status!, line: s.stdout.trim(), notes: s.stderr };
  runs.set(name, r);
  return r;
}

const failedOf = (line: string): number => Number(/^\d+ passed, (\d+) failed, \d+ skipped$/.exec(line)![1]);

describe('the summary line of a vitest run', () => {
  it('counts the tests of a file whose beforeAll threw, a file that did not load and an afterAll that threw as failed', () => {
    const r = runFixture('broken');
    // passed: c (after-all-throws), p (skips); failed: a and b (never ran), does-not-load (1), after-all-throws (1);
    // skipped: s and t (skips), on purpose in a file that ran
    expect(r.line).toBe('2 passed, 4 failed, 2 skipped');
    expect(r.status).not.toBe(0);
    expect(r.notes).toMatch(/before-all-throws\.fixture\.ts: 2 test\(s\) did not run \(.*no chromium/);
    expect(r.notes).toMatch(/does-not-load\.fixture\.ts: the file failed outside its tests/);
    expect(r.notes).toMatch(/after-all-throws\.fixture\.ts: the file failed outside its tests/);
  });

  it('counts an error thrown outside every test as a failure, as vitest\'s exit status does', () => {
    const r = runFixture('unhandled');
    expect(r.status).not.toBe(0);
    expect(r.line).toBe('2 passed, 1 failed, 0 skipped');
  });

  it('shows skipped tests of a clean run, which exits 0', () => {
    const r = runFixture('clean');
    expect(r.status).toBe(0);
    expect(r.line).toBe('2 passed, 0 failed, 1 skipped');
  });

  it('agrees with the exit status in every fixture: failed > 0 exactly when vitest exits non-zero', () => {
    for (const name of ['broken', 'unhandled', 'clean']) {
      const r = runFixture(name);
      expect({ name, failed: failedOf(r.line) > 0 }).toEqual({ name, failed: r.status !== 0 });
    }
  });
});

describe('summary lines added up (scripts/test.sh: unit tests + pack check)', () => {
  const sum = (...lines: string[]) => spawnSync(process.execPath, [summarize, '--sum', ...lines], { encoding: 'utf8' }).stdout.trim();

  it('adds passed, failed and skipped; a line without skipped counts none', () => {
    expect(sum('10 passed, 1 failed, 3 skipped', '7 passed, 0 failed')).toBe('17 passed, 1 failed, 3 skipped');
  });

  it('counts a missing or malformed line as one failure', () => {
    expect(sum('10 passed, 0 failed, 0 skipped', '')).toBe('10 passed, 1 failed, 0 skipped');
    expect(sum('10 passed, 0 failed, 0 skipped', 'pack check crashed')).toBe('10 passed, 1 failed, 0 skipped');
  });

  it('reports one failure when vitest wrote no report at all', () => {
    const s = spawnSync(process.execPath, [summarize, join(out, 'missing.json'), '--exit-code', '1'], { encoding: 'utf8' });
    expect(s.stdout.trim()).toBe('0 passed, 1 failed, 0 skipped');
  });
});
