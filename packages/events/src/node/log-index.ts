import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Type } from '../type.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { EventCatalogue } from '../catalogue.js';
import type { EventEnvelope } from '../envelope.js';
import type { LogHeader } from '../header.js';
import { LogError } from '../log-error.js';
import { replay, type ReplayResult } from '../replay.js';
import { isGzipPath, openLogReader, type NodeReadOptions } from './reader.js';

const IndexEntrySchema = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  line: Type.Integer({ minimum: 2 }),
  offset: Type.Integer({ minimum: 0 }),
});

export const LogIndexSchema = Type.Object({
  format: Type.Literal('memhp-log-index'),
  formatVersion: Type.Literal(1),
  /** Size and mtime of the log the index was built from: a stale index is ignored, never trusted. */
  bytes: Type.Integer({ minimum: 0 }),
  mtimeMs: Type.Number(),
  every: Type.Integer({ minimum: 1 }),
  lastSeq: Type.Integer({ minimum: 0 }),
  entries: Type.Array(IndexEntrySchema),
});

/** Byte offsets of every `every`-th event line: entries for seq 1, 1+every, 1+2·every, … */
export interface LogIndex {
  format: 'memhp-log-index';
  formatVersion: 1;
  bytes: number;
  mtimeMs: number;
  every: number;
  lastSeq: number;
  entries: Array<{ seq: number; line: number; offset: number }>;
}

const checkIndex = TypeCompiler.Compile(LogIndexSchema);

/**
 * Scan a plain `.ndjson` log's bytes (no JSON parsing: a few hundred MB/s) and record where every `every`-th event
 * line starts. Relies on the format's invariant that event seq s sits on line s+1; a reader resumed from an entry
 * checks that invariant again, so a corrupt log is still reported, not misread.
 */
export async function buildLogIndex(path: string, opts: { every?: number } = {}): Promise<LogIndex> {
  const every = opts.every ?? 100_000;
  if (!Number.isSafeInteger(every) || every < 1) throw new RangeError('every must be a positive integer');
  if (isGzipPath(path)) {
    throw new LogError('io', { file: basename(path), line: 1 }, 'byte offsets need an uncompressed .ndjson log');
  }
  const st = await stat(path);
  const entries: LogIndex['entries'] = [];
  let line = 1; // line being scanned
  let base = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    let i = buf.indexOf(0x0a);
    while (i >= 0) {
      line++;
      const seq = line - 1;
      if ((seq - 1) % every === 0) entries.push({ seq, line, offset: base + i + 1 });
      i = buf.indexOf(0x0a, i + 1);
    }
    base += buf.length;
  }
  // The last entry may point at end-of-file (no event yet there): drop it.
  const complete = line - 2; // whole event lines = newline count minus the header's
  while (entries.length > 0 && entries[entries.length - 1]!.seq > complete) entries.pop();
  return { format: 'memhp-log-index', formatVersion: 1, bytes: st.size, mtimeMs: st.mtimeMs, every, lastSeq: Math.max(0, complete), entries };
}

export function logIndexPath(logPath: string): string {
  return `${logPath}.idx.json`;
}

/** Store an index beside its log (`run.ndjson.idx.json`). */
export async function writeLogIndex(logPath: string, index: LogIndex): Promise<string> {
  const p = logIndexPath(logPath);
  await writeFile(p, `${JSON.stringify(index)}\n`);
  return p;
}

/** The stored index if it exists, is well-formed and still matches the log's size and mtime; else null. */
export async function loadLogIndex(logPath: string): Promise<LogIndex | null> {
  let text: string;
  try {
    text = await readFile(logIndexPath(logPath), 'utf8');
  } catch {
    return null;
  }
  let idx: unknown;
  try {
    idx = JSON.parse(text);
  } catch {
    return null;
  }
  if (!checkIndex.Check(idx)) return null;
  const st = await stat(logPath);
  return idx.bytes === st.size && idx.mtimeMs === st.mtimeMs ? (idx as LogIndex) : null;
}

/** The index entry to start from to reach event `seq` (the greatest entry.seq ≤ seq), or undefined. */
export function indexEntryFor(index: LogIndex, seq: number): LogIndex['entries'][number] | undefined {
  const es = index.entries;
  let lo = 0;
  let hi = es.length - 1;
  let best: LogIndex['entries'][number] | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (es[mid]!.seq <= seq) {
      best = es[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** Read `count` events starting at seq `from`, seeking with the index instead of reading the log from the top. */
export async function readEventsAt(
  path: string,
  index: LogIndex,
  from: number,
  count: number,
  opts: Omit<NodeReadOptions, 'from'>,
): Promise<EventEnvelope[]> {
  const entry = indexEntryFor(index, from);
  const reader = openLogReader(path, entry ? { ...opts, from: entry } : opts);
  const out: EventEnvelope[] = [];
  for await (const e of reader.events()) {
    if (e.seq < from) continue;
    if (out.length >= count) break;
    out.push(e);
  }
  return out;
}

export interface Checkpoints<S> {
  index: LogIndex;
  /** State after event seq, for seq = every, 2·every, … */
  snapshots: Array<{ seq: number; state: S }>;
}

export interface FoldOptions<S> extends Omit<NodeReadOptions, 'from'> {
  catalogue: EventCatalogue;
  initial: (h: LogHeader) => S;
  evolve: (s: S, e: EventEnvelope) => S;
}

/**
 * One full replay that keeps the state every `every` events, beside a byte index at the same stride, so that
 * `stateAt` later replays at most `every` events. Snapshots are kept as evolve returns them: with an evolve that
 * mutates in place, pass `clone`.
 */
export async function buildCheckpoints<S>(
  path: string,
  opts: FoldOptions<S> & { every: number; clone?: (s: S) => S },
): Promise<Checkpoints<S>> {
  const index = await buildLogIndex(path, { every: opts.every });
  const snapshots: Checkpoints<S>['snapshots'] = [];
  const clone = opts.clone ?? ((s: S) => s);
  await replay(openLogReader(path, opts), {
    initial: opts.initial,
    evolve: opts.evolve,
    snapshotEvery: opts.every,
    onSnapshot: (seq, s) => snapshots.push({ seq, state: clone(s) }),
  });
  return { index, snapshots };
}

/**
 * State after event `seq`. With checkpoints it resumes from the nearest snapshot at or before `seq` and reads from
 * that byte offset; without, it replays from the top and stops at `seq` (the only option for .gz logs).
 */
export async function stateAt<S>(
  path: string,
  seq: number,
  opts: FoldOptions<S> & { checkpoints?: Checkpoints<S> },
): Promise<ReplayResult<S>> {
  const cp = opts.checkpoints;
  const { checkpoints: _c, ...rest } = opts;
  if (cp && !isGzipPath(path)) {
    let snap: { seq: number; state: S } | undefined;
    for (const s of cp.snapshots) if (s.seq <= seq) snap = s;
    const entry = snap ? cp.index.entries.find((e) => e.seq === snap!.seq + 1) : undefined;
    if (snap && entry) {
      const reader = openLogReader(path, { ...rest, from: entry });
      return replay(reader, { initial: opts.initial, evolve: opts.evolve, until: seq, from: snap });
    }
  }
  return replay(openLogReader(path, rest), { initial: opts.initial, evolve: opts.evolve, until: seq });
}
