/**
 * run → replay / export / query / diff on real recorded logs. Two runs are recorded as processes (the second
 * on another kernel, so diff has something to find); the log tools then run through the same main().
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { FIXTURES, hasStack, memhp, memhpInProcess, tmp, type Ran } from './helpers.js';
import type { TraceEvent } from '../src/commands/export.js';

const SMALL = join(FIXTURES, 'scenarios/small.yaml');
const dir = tmp();
const A = join(dir, 'a.ndjson.gz');
const B = join(dir, 'b.ndjson');
let runA: Ran;
let runB: Ran;

beforeAll(async () => {
  [runA, runB] = await Promise.all([memhp(['run', SMALL, '-o', A, '--json']), memhp(['run', SMALL, '-o', B, '--kernel', '6.8'])]);
}, 60_000);

describe('run', () => {
  it('records a gzip log whose header carries the machine and whose events are contiguous', () => {
    expect(runA.code, runA.stderr).toBe(0);
    const lines = gunzipSync(readFileSync(A)).toString('utf8').trim().split('\n');
    const header = JSON.parse(lines[0]!) as { format: string; kernel: string; seed: number };
    expect(header).toMatchObject({ format: 'memhp-log', kernel: '6.18', seed: 1 });
    const seqs = lines.slice(1).map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('reports each step result and a summary with failures by errno (JSON)', () => {
    const j = JSON.parse(runA.stdout) as { steps: Array<{ result: string }>; summary: { failuresByErrno: Record<string, number>; blocksAdded: number; blocksRemoved: number; memoryAddedBytes: number }; expectFailures: number };
    expect(j.expectFailures).toBe(0);
    // small.yaml: one EEXIST (overlap, apps/docs/kernel/hotplug.md#add-steps 0c) and one EINVAL (unaligned, apps/docs/kernel/hotplug.md#alignment).
    expect(j.summary.failuresByErrno).toEqual({ EEXIST: 1, EINVAL: 1 });
    expect(j.steps.map((s) => s.result)).toEqual(['ok', 'ok', 'EEXIST', 'ok', 'EINVAL', 'ok', 'ok', 'ok', 'ok', 'ok']);
    // 256 MiB = 2 blocks of 128 MiB added and removed; the failed adds count for nothing.
    expect(j.summary).toMatchObject({ blocksAdded: 2, blocksRemoved: 2, memoryAddedBytes: 268435456 });
  });

  it('prints a human summary on another kernel and writes plain NDJSON', () => {
    expect(runB.code, runB.stderr).toBe(0);
    expect(runB.stdout).toMatch(/failures\s+EEXIST ×1, EINVAL ×1/);
    expect(runB.stdout).toContain(`replay it with: memhp replay ${B}`);
    expect(readFileSync(B, 'utf8').startsWith('{"format":"memhp-log"')).toBe(true);
  });

  it('exits 1 with the failed expectation when the kernel answers otherwise', async () => {
    const r = await memhpInProcess(['run', join(FIXTURES, 'bad/failing-expect.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/errno of the previous step: expected EEXIST, got no previous step/);
    expect(r.stderr).toContain('1 expectation failed');
  });
});

describe('replay', () => {
  it('rebuilds the same summary from the log as the live run printed', async () => {
    const live = (JSON.parse(runA.stdout) as { summary: unknown }).summary;
    const r = await memhpInProcess(['replay', A, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { summary: unknown }).summary).toEqual(live);
  });

  it('stops after event N with --at and shows the timeline up to it', async () => {
    const r = await memhpInProcess(['replay', A, '--report', 'timeline', '--at', '3', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { events: Array<{ seq: number }> }).events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('names the file and line of a bad log line, exit 2, no stack trace', async () => {
    const broken = join(dir, 'broken.ndjson');
    const lines = readFileSync(B, 'utf8').split('\n');
    lines[3] = '{"seq":3,"time":3000,"op":0,"cause":null,"type":"section.mark_present","v":1,"payload":{"nonsense":true}}';
    writeFileSync(broken, lines.join('\n'));
    const r = await memhpInProcess(['replay', broken, '--strict']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.ndjson:4: /);
    expect(hasStack(r.stderr)).toBe(false);
  });

  it('says the log is too short for --at', async () => {
    const r = await memhpInProcess(['replay', B, '--at', '999999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field --at: the log has only \d+ events/);
  });
});

describe('export', () => {
  it('writes a Chrome trace Perfetto can open: metadata, one track per block, command spans', async () => {
    const out = join(dir, 'a.trace.json');
    const r = await memhpInProcess(['export', A, '--format', 'chrome-trace', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: TraceEvent[]; displayTimeUnit: string };
    expect(Array.isArray(t.traceEvents)).toBe(true);
    for (const e of t.traceEvents) {
      expect(['X', 'i', 'M', 'C']).toContain(e.ph);
      expect(typeof e.name).toBe('string');
      expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
      expect(e.ts).toBeGreaterThanOrEqual(0);
      if (e.ph === 'X') expect(e.dur).toBeGreaterThanOrEqual(0);
    }
    const blockTracks = t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === 2).map((e) => e.args?.name);
    expect(blockTracks).toEqual(expect.arrayContaining(['memory0', 'memory7', 'memory32', 'memory33'])); // 1 GiB boot = memory0–7
    // boot + 8 commands (small.yaml: 3 adds, 2 onlines, 2 offlines, 1 remove), one span each on the operations track.
    expect(t.traceEvents.filter((e) => e.ph === 'X' && e.pid === 1).length).toBe(9);
    // memory32: created offline, onlined, then offlined through going-offline (apps/docs/kernel/hotplug.md#memory-blocks state machine), removed.
    expect(t.traceEvents.filter((e) => e.ph === 'X' && e.pid === 2 && e.tid === 32).map((e) => e.name)).toEqual(['offline', 'online', 'going-offline', 'offline']);
  });

  it('writes CSV with one row per event', async () => {
    const out = join(dir, 'a.csv');
    const r = await memhpInProcess(['export', A, '--format', 'csv', '-o', out]);
    expect(r.code).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('seq,time,op,cause,type,v,payload');
    expect(rows.length - 1).toBe(gunzipSync(readFileSync(A)).toString().trim().split('\n').length - 1);
  });

  it('rejects an unknown format, exit 2', async () => {
    const r = await memhpInProcess(['export', A, '--format', 'svg', '-o', join(dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('field --format: unknown format "svg"');
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('query', () => {
  it('answers SQL over the events table with flattened payload columns', async () => {
    const r = await memhpInProcess(['query', A, "SELECT result, count(*) AS n FROM events WHERE type = 'command.end' AND kind = 'add_memory' GROUP BY result ORDER BY result", '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { result: '0', n: '1' },
      { result: 'EEXIST', n: '1' },
      { result: 'EINVAL', n: '1' },
    ]);
  });

  it('reads payload JSON too', async () => {
    const r = await memhpInProcess(['query', A, "SELECT count(*) AS pmd FROM events WHERE type = 'vmemmap.populate' AND (payload->>'granularity') = 'pmd'"]);
    expect(r.code).toBe(0);
    // small.yaml adds 2 sections after boot's 8 (1 GiB): every section memmap is one 2 MiB PMD leaf on x86 (apps/docs/kernel/vmemmap.md#x86-populate).
    expect(r.stdout).toMatch(/^ pmd\n\s+10\n\(1 row\)/);
  });

  it('reports a SQL error as bad input, exit 2', async () => {
    const r = await memhpInProcess(['query', A, 'SELEKT 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field query: SQL: /);
  });
});

describe('a log cut short (a killed run)', () => {
  it('replays the valid prefix with a warning, and refuses it with --strict', async () => {
    const torn = join(dir, 'torn.ndjson');
    const text = readFileSync(B, 'utf8');
    writeFileSync(torn, text.slice(0, text.length - 40));
    const lenient = await memhpInProcess(['replay', torn]);
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lenient.stderr).toMatch(/memhp: warning: .*torn\.ndjson:\d+/);
    const strict = await memhpInProcess(['replay', torn, '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/torn\.ndjson:\d+/);
  });
});
