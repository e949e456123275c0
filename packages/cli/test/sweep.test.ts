/**
 * `memhp sweep` with the embedded local pool (issue 20): real CLI processes with real worker processes.
 * Cost: about 45 s on the 2-core CI machine (four sweeps of 6 points, one of 4 points whose worker crashes
 * four times, and three queries; most of it is process start-up from src).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStack, memhp, memhpInProcess } from './helpers.js';
import { SWEEPS, csv, jsonl, start, tmpDir } from './sweep-helpers.js';

const SMALL = join(SWEEPS, 'small.yaml');
// Points slow enough (~0.3 s each) that a Ctrl-C after the first result lands while points are still left.
const CYCLED = join(SWEEPS, 'cycled.yaml');

describe('memhp sweep (local pool)', { timeout: 300_000 }, () => {
  let oneJob = '';
  it('writes one row per point, in point order, with the counters of each run', async () => {
    const dir = tmpDir();
    const logs = tmpDir();
    const r = await memhp(['sweep', SMALL, '-o', dir, '--jobs', '1', '--logs', logs]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = jsonl(dir);
    expect(rows.map((x) => x.label)).toEqual(['kernel=6.1 size=128M', 'kernel=6.1 size=1G', 'kernel=6.1 size=2G', 'kernel=6.18 size=128M', 'kernel=6.18 size=1G', 'kernel=6.18 size=2G']);
    expect(new Set(rows.map((x) => x.point)).size).toBe(6);
    for (const x of rows) expect(x.status).toBe('ok');
    const g1 = rows[4]!;
    // apps/docs/kernel/user-space.md#vmstat: 512 memmap pages per 128 MiB block (4K pages, 64-byte struct page); 1 GiB = 8 blocks.
    expect(g1.nr_memmap_pages).toBe(8 * 512);
    // 6.1's /proc/vmstat has no nr_memmap_pages (the counter came in 6.11, apps/docs/kernel/index.md#invariants invariant 10): no value, not 0.
    expect(rows[1]!.nr_memmap_pages).toBe(null);
    // ... all of it from the buddy allocator (no memmap_on_memory): 8 × 2 MiB.
    expect(g1.memmap_bytes_buddy).toBe(8 * 2 * 1024 * 1024);
    // memhp_default_state=online_movable: every hot-added block is in ZONE_MOVABLE (apps/docs/kernel/hvo.md#hvo).
    expect(g1.blocks_Movable).toBe(8);
    expect(g1.step1).toBe('ok');
    oneJob = csv(dir);
    // --logs: each point's event log, named by its id, replays like any log.
    const log = join(logs, `${String(rows[4]!.point)}.ndjson`);
    expect(readdirSync(logs)).toHaveLength(6);
    const replayed = await memhpInProcess(['--json', 'replay', log, '--report', 'vmstat']);
    expect(JSON.parse(replayed.stdout).vmstat.nr_memmap_pages).toBe(8 * 512);
    expect(existsSync(join(dir, '.journal.jsonl'))).toBe(true);
  });

  let twoJobs = '';
  it('gives the same table whatever the number of jobs, and memhp query reads it with DuckDB', async () => {
    const dir = tmpDir();
    twoJobs = dir;
    const r = await memhp(['sweep', SMALL, '-o', dir, '--jobs', '2']);
    expect(r.code).toBe(0);
    expect(oneJob).not.toBe('');
    expect(csv(dir)).toBe(oneJob);
    const q = await memhpInProcess(['--json', 'query', dir, 'select kernel, sum(memmap_bytes_buddy) as bytes, count(*) as n from results group by kernel order by kernel']);
    expect(q.code).toBe(0);
    // 128M + 1G + 2G = 1 + 8 + 16 blocks, a 2 MiB memmap each from the buddy allocator (apps/docs/kernel/memmap-on-memory.md#lifecycle).
    expect(JSON.parse(q.stdout)).toEqual([
      { kernel: '6.1', bytes: String(25 * 2 * 1024 * 1024), n: '3' },
      { kernel: '6.18', bytes: String(25 * 2 * 1024 * 1024), n: '3' },
    ]);
  });

  it('queries a results directory in the query process: a runaway query is stopped at --timeout, and the SQL reads no other file', async () => {
    expect(twoJobs).not.toBe('');
    const t0 = Date.now();
    const r = await memhpInProcess(['query', twoJobs, 'SELECT count(*) FROM results, range(100000000000) a', '--timeout', '2']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the query ran longer than 2 s and was stopped/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    // The sandbox of `memhp query` (DuckDB enable_external_access = false once results.jsonl is read).
    const other = await memhpInProcess(['query', twoJobs, "SELECT * FROM read_text('/etc/hostname')"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/SQL: .*(disabled|external access)/i);
  });

  it('Ctrl-C lets the points in flight finish; a later --resume completes the same table', async () => {
    const whole = tmpDir();
    expect((await memhp(['sweep', CYCLED, '-o', whole, '--jobs', '2'])).code).toBe(0);
    const dir = tmpDir();
    const p = start(['sweep', CYCLED, '-o', dir, '--jobs', '1']);
    const journal = join(dir, '.journal.jsonl');
    const until = Date.now() + 60_000;
    while (!(existsSync(journal) && readFileSync(journal, 'utf8').length > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGINT');
    const code = await p.exited;
    expect(code).toBe(130);
    expect(p.stderr()).toMatch(/interrupted with \d point\(s\) left; run again with --resume/);
    const partial = jsonl(dir);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(6);
    const r = await memhp(['sweep', CYCLED, '-o', dir, '--jobs', '2', '--resume', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ran).toBe(6 - partial.length);
    expect(csv(dir)).toBe(csv(whole));
  });

  it('a point that kills its worker process is run again in a new one, then becomes an error row; the point queued behind it does not count it', async () => {
    const dir = tmpDir();
    const crashes = join(dir, 'crashes.txt');
    const r = await memhp(['--arch-module', join(SWEEPS, 'crashy-arch.mjs'), 'sweep', join(SWEEPS, 'crash.yaml'), '-o', dir, '--jobs', '1', '--max-deliveries', '2'], { env: { MEMHP_CRASH_LOG: crashes } });
    expect(r.code, r.stderr).toBe(0);
    const rows = jsonl(dir);
    expect(rows.map((x) => [x.label, x.status])).toEqual([
      ['arch=x86_64 size=128M', 'ok'],
      ['arch=x86_64 size=1G', 'ok'],
      ['arch=crashy_x86 size=128M', 'dead'],
      ['arch=crashy_x86 size=1G', 'dead'],
    ]);
    // Each crashy point ran (and crashed) exactly twice: a crash of the point before it, while it waited queued
    // behind that one, is not one of its attempts.
    for (const x of rows.slice(2)) expect(x.error).toBe('worker process ended (SIGKILL) while running the point; gave up after 2 attempts');
    expect(readFileSync(crashes, 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
  });

  it('locates a matrix reference that names no value, and a bad value in one point, in the sweep file', async () => {
    const a = await memhpInProcess(['sweep', join(SWEEPS, 'bad-var.yaml'), '-o', tmpDir()]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/bad-var\.yaml:12:45: field steps\[0\]\.add_memory\.size: \$\{\{ matrix\.sise \}\}: no such matrix value/);
    // A real process: the points are checked in the local pool's worker processes, which a sweep in this process could not start.
    const b = await memhp(['sweep', join(SWEEPS, 'bad-point.yaml'), '-o', tmpDir()]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/bad-point\.yaml:13:\d+: field steps\[1\]\.online\.blocks: point 2 \(blocks=banana\): not a block list/);
    expect(hasStack(a.stderr + b.stderr)).toBe(false);
  });
});
