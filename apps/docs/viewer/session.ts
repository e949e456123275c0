/**
 * One opened log in the viewer: folds it once through core's `evolve` (keeping periodic snapshots and the byte
 * offset of the line after each), then answers "the state after event N" by restoring the nearest snapshot and
 * replaying at most `snapshotEvery` events from that offset. Runs in a Web Worker in the page and directly in
 * Node in the tests; memory is O(snapshots + samples), never O(events).
 */
import type { Envelope, HeaderLike, ViewerApi } from './core-adapter.js';
import type { Frame, Sample } from './protocol.js';
import { SampleSeries, cap, counters, drawBlocks, drawPmds, drawSections, type StateLike } from './project.js';

export interface SessionOptions {
  /** Events between snapshots (each snapshot is one deep copy of the state). */
  snapshotEvery?: number;
  /** Largest number of sections / PMDs put in one frame. */
  maxDrawn?: number;
  onProgress?: (events: number, bytes: number) => void;
}

interface HugetlbCounts {
  optimized: number;
  skipped: number;
  restored: number;
}

interface Snapshot {
  seq: number;
  state: StateLike;
  hugetlb: HugetlbCounts;
  /** Byte offset (in the decompressed log) of the line holding event seq + 1. */
  nextLineOffset: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];

async function isGzip(blob: Blob): Promise<boolean> {
  const b = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

/** HVO outcomes are recorded facts (hvo.optimize / hvo.skip / hvo.restore events, DOMAIN.md §11). */
function countHugetlb(h: HugetlbCounts, type: string): void {
  if (type === 'hvo.optimize') h.optimized++;
  else if (type === 'hvo.skip') h.skipped++;
  else if (type === 'hvo.restore') h.restored++;
}

function summarize(e: Envelope): string {
  const s = JSON.stringify(e.payload);
  return s.length > 240 ? s.slice(0, 237) + '…' : s;
}

/**
 * Passes bytes through while recording where lines start: the offset of line `k * every + 1` for every k
 * (line 0 is the header, line n holds event seq n in a well-formed log).
 */
function lineOffsetRecorder(every: number, offsets: Map<number, number>, onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let pos = 0;
  let line = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
        line++;
        if (line % every === 1 || every === 1) offsets.set(line, pos + i + 1);
      }
      pos += chunk.byteLength;
      onBytes(pos);
      ctl.enqueue(chunk);
    },
  });
}

/** Drops the first `skip` bytes of a stream (seeking inside a gzip stream means decompressing up to there). */
function skipBytes(skip: number): TransformStream<Uint8Array, Uint8Array> {
  let left = skip;
  return new TransformStream({
    transform(chunk, ctl) {
      if (left >= chunk.byteLength) {
        left -= chunk.byteLength;
        return;
      }
      ctl.enqueue(left > 0 ? chunk.subarray(left) : chunk);
      left = 0;
    },
  });
}

/** Splits a byte stream into lines (without the newline). */
async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  let carry = '';
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      const text = carry + dec.decode(value, { stream: true });
      const parts = text.split('\n');
      carry = parts.pop() ?? '';
      for (const p of parts) yield p;
    }
    carry += dec.decode();
    if (carry) yield carry;
  } finally {
    reader.releaseLock();
  }
}

export class LogSession {
  private header: HeaderLike | null = null;
  private snapshots: Snapshot[] = [];
  private lastSeq = 0;
  private gzip = false;
  private readonly every: number;
  private readonly maxDrawn: number;
  private catalogue: ReturnType<ViewerApi['core']['createCoreCatalogue']>;

  constructor(
    private readonly api: ViewerApi,
    private readonly blob: Blob,
    private readonly name: string,
    private readonly opts: SessionOptions = {},
  ) {
    this.every = Math.max(1, opts.snapshotEvery ?? 5000);
    this.maxDrawn = opts.maxDrawn ?? 4096;
    this.catalogue = api.core.createCoreCatalogue();
  }

  private async rawStream(): Promise<ReadableStream<Uint8Array>> {
    const s = this.blob.stream() as ReadableStream<Uint8Array>;
    return this.gzip ? s.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>) : s;
  }

  /** The single full pass: header, fold, snapshots, counter samples. */
  async load(): Promise<{ header: HeaderLike; lastSeq: number; samples: Sample[]; snapshots: number }> {
    this.gzip = await isGzip(this.blob);
    const offsets = new Map<number, number>();
    let bytes = 0;
    const stream = (await this.rawStream()).pipeThrough(lineOffsetRecorder(this.every, offsets, (n) => (bytes = n)));
    const reader = this.api.events.readLogStream(stream, { file: this.name, catalogue: this.catalogue });
    const header = await reader.header();
    this.header = header;
    let state = this.api.core.initialStateFromHeader(header);
    const hugetlb: HugetlbCounts = { optimized: 0, skipped: 0, restored: 0 };
    const series = new SampleSeries(2000);
    this.snapshots = [{ seq: 0, state: this.api.clone(state), hugetlb: { ...hugetlb }, nextLineOffset: offsets.get(1) ?? -1 }];
    series.push(0, counters(state, this.api.views));
    let seq = 0;
    for await (const e of reader.events()) {
      state = this.api.core.evolve(state, e);
      seq = e.seq;
      countHugetlb(hugetlb, e.type);
      if (series.wants(seq)) series.push(seq, counters(state, this.api.views));
      if (seq % this.every === 0) {
        this.snapshots.push({ seq, state: this.api.clone(state), hugetlb: { ...hugetlb }, nextLineOffset: offsets.get(seq + 1) ?? -1 });
        this.opts.onProgress?.(seq, bytes);
      }
    }
    this.lastSeq = seq;
    series.push(seq, counters(state, this.api.views));
    // Keep the final state too, so the last frame (the one a user looks at first) costs nothing.
    if (this.snapshots[this.snapshots.length - 1]!.seq !== seq) {
      this.snapshots.push({ seq, state: this.api.clone(state), hugetlb: { ...hugetlb }, nextLineOffset: -1 });
    }
    return { header, lastSeq: seq, samples: series.toArray(), snapshots: this.snapshots.length };
  }

  /** The state after event `target` (0 = before the first event), drawn. */
  async frameAt(target: number): Promise<Frame> {
    if (!this.header) throw new Error('log not loaded');
    const want = Math.max(0, Math.min(Math.floor(target), this.lastSeq));
    let snap = this.snapshots[0]!;
    for (const s of this.snapshots) if (s.seq <= want) snap = s;
    let state = this.api.clone(snap.state);
    const hugetlb = { ...snap.hugetlb };
    let event: Envelope | null = null;
    if (snap.seq < want || (want > 0 && snap.seq === want)) {
      // Replay forward from the snapshot's offset; when the snapshot is the target we still read its event
      // so the frame can say what happened at that step.
      const from = snap.seq === want ? this.snapshotBefore(want) : snap;
      if (from !== snap) {
        state = this.api.clone(from.state);
        Object.assign(hugetlb, from.hugetlb);
      }
      event = await this.replayRange(from, want, (e) => {
        state = this.api.core.evolve(state, e);
        countHugetlb(hugetlb, e.type);
      });
    }
    const sections = cap(drawSections(state), this.maxDrawn);
    const pm = drawPmds(state);
    const pmds = cap(pm.pmds, this.maxDrawn);
    return {
      seq: want,
      lastSeq: this.lastSeq,
      event: event ? { seq: event.seq, type: event.type, op: event.op, summary: summarize(event) } : null,
      sections: sections.items,
      subsectionsPerSection: state.machine.geometry.subsectionsPerSection,
      blocks: drawBlocks(state),
      pmds: pmds.items,
      pmdCounts: pm.counts,
      counters: counters(state, this.api.views),
      hugetlb,
    };
  }

  private snapshotBefore(seq: number): Snapshot {
    let best = this.snapshots[0]!;
    for (const s of this.snapshots) if (s.seq < seq) best = s;
    return best;
  }

  /** Applies events (from.seq, to] read from the log at the snapshot's line offset; returns the last one. */
  private async replayRange(from: Snapshot, to: number, apply: (e: Envelope) => void): Promise<Envelope | null> {
    if (to <= from.seq) return null;
    let stream: ReadableStream<Uint8Array>;
    let line: number;
    if (from.nextLineOffset >= 0) {
      stream = this.gzip
        ? (await this.rawStream()).pipeThrough(skipBytes(from.nextLineOffset))
        : (this.blob.slice(from.nextLineOffset).stream() as ReadableStream<Uint8Array>);
      line = from.seq + 1;
    } else {
      stream = await this.rawStream();
      line = 0;
    }
    let last: Envelope | null = null;
    for await (const text of splitLines(stream)) {
      const lineNo = line++;
      if (lineNo === 0 && from.nextLineOffset < 0) continue; // the header
      if (text.trim() === '') continue;
      const e = this.catalogue.upcast(this.api.events.parseEventLine(text, { file: this.name, line: lineNo + 1 }, this.catalogue));
      if (e.seq <= from.seq) continue;
      apply(e);
      last = e;
      if (e.seq >= to) break;
    }
    return last;
  }
}
