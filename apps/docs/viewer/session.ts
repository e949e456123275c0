/**
 * One opened log in the viewer: folds it once through core's `evolve` (keeping periodic snapshots and the byte
 * offset of the line after each), then answers "the state after event N" from the nearest state at or before N,
 * replaying at most one snapshot interval from that offset. Runs in a Web Worker in the page and directly in
 * Node in the tests; memory is O(snapshots + samples), never O(events).
 *
 * A seek copies nothing (a deep copy of a 6 TiB state costs more than the 100 ms a seek may take): the states
 * kept — the snapshots and the cursor, together the *anchors* — are advanced in place. The anchor nearest
 * before the target is replayed forward to it and is from then on an anchor at the target; the states only ever
 * move forward, so {@link LogSession.repair}, run when the viewer is idle, copies an anchor back into each gap a
 * seek left, until every snapshot position of the load is covered again. The number of states kept never grows:
 * a repair that adds one drops the anchor farthest past its position's need.
 */
import type { Envelope, HeaderLike, ViewerApi } from './core-adapter.js';
import type { Frame, Sample } from './protocol.js';
import { gunzipMembers, inflateBeside, keepBytes } from './gunzip.js';
import { SampleSeries, countBlocks, counters, drawPmds, drawSectionsUpTo, type StateLike } from './project.js';

export interface SessionOptions {
  /**
   * Fixed number of events between snapshots. Without it the session adapts: a snapshot is taken when at least
   * 2000 events and three times the last snapshot's copy time have passed, and at most `maxSnapshots` are kept
   * (every other one is dropped when full), so a state of 50 000 memory blocks neither stalls the load on copies
   * nor fills memory with them.
   */
  snapshotEvery?: number;
  maxSnapshots?: number;
  /**
   * Memory the states kept for seeking may take, by {@link estimateStateBytes} (default 512 MiB): the load keeps
   * fewer snapshots when they would take more, and {@link LogSession.densify} adds states while idle only up to
   * it. With `maxSnapshots`, whichever is smaller bounds the count.
   */
  stateBudgetBytes?: number;
  /** {@link LogSession.densify} splits no gap narrower than this many events (default 4000). */
  densifyMinEvents?: number;
  /** Largest number of sections / PMDs put in one frame. */
  maxDrawn?: number;
  /**
   * A gzip log's decompressed text is kept, up to this many bytes (default 512 MiB), as a Blob (which a browser may
   * keep on disk): a seek then reads from the nearest snapshot's byte offset, as in a plain log. A longer log is
   * decompressed again from the top for every seek.
   */
  keepDecompressedBytes?: number;
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
  /** The event `seq` itself, when known (an anchor a seek moved there): a frame at `seq` then needs no replay. */
  event: Envelope | null;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Heap bytes one copy of a state takes, estimated from its entries: sections, memory blocks, altmaps, vmemmap PMD
 * entries and resources, each a small object in a table. 112 bytes an entry is what a copy of the 6 TiB state of
 * the viewer bench measured in Node's heap (20.2 MiB for 196,704 entries; bench/viewer-bench.ts prints both,
 * estimated and measured), plus 64 KiB for the rest (machine description, nodes, zones, counters).
 */
export function estimateStateBytes(state: StateLike): number {
  const s = state as StateLike & { altmaps?: ReadonlyMap<number, unknown>; resources?: readonly unknown[] };
  const entries = s.sections.size + s.blocks.size + s.vmemmap.pmds.size + (s.altmaps?.size ?? 0) + (s.resources?.length ?? 0);
  return 65536 + 112 * entries;
}

async function isGzip(blob: Blob): Promise<boolean> {
  const b = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

/** HVO outcomes are recorded facts (hvo.optimize / hvo.skip / hvo.restore events, apps/docs/kernel/index.md#event-model). */
function countHugetlb(h: HugetlbCounts, type: string): void {
  if (type === 'hvo.optimize') h.optimized++;
  else if (type === 'hvo.skip') h.skipped++;
  else if (type === 'hvo.restore') h.restored++;
}

function summarize(e: Envelope): string {
  const s = JSON.stringify(e.payload);
  return s.length > 240 ? s.slice(0, 237) + '…' : s;
}

/** Byte offset of the start of every line (line 0 = the header), in a growable typed array: 8 bytes a line. */
class LineOffsets {
  private a = new Float64Array(1024);
  private n = 1; // line 0 starts at 0
  add(offset: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = offset;
  }
  get(line: number): number {
    return line < this.n ? this.a[line]! : -1;
  }
}

/** Passes bytes through while recording where every line starts. */
function lineOffsetRecorder(offsets: LineOffsets, onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let pos = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) offsets.add(pos + i + 1);
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b.slice();
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

export class LogSession {
  private header: HeaderLike | null = null;
  private snapshots: Snapshot[] = [];
  private lastSeq = 0;
  private gzip = false;
  /** A gzip log's decompressed text, when it was short enough to keep (keepDecompressedBytes). */
  private text: Blob | null = null;
  private readonly every: number | null;
  private readonly maxSnapshots: number;
  private readonly budgetBytes: number;
  /** Estimated bytes of one state, from the last snapshot taken ({@link estimateStateBytes}). */
  private stateBytes = 0;
  private readonly maxDrawn: number;
  private offsets = new LineOffsets();
  /** Every state kept (the load's snapshots, then wherever seeks moved them), in seq order. */
  private anchors: Snapshot[] = [];
  /** The seqs the load's snapshots were taken at: the positions {@link repair} keeps covered. */
  private homes: number[] = [];
  /** The number of states kept after the load; seeks and repairs never keep more. */
  private maxAnchors = 0;
  /** The state of the last frame: kept by trim(), since scrubbing forward continues from it. */
  private current: Snapshot | null = null;
  private catalogue: ReturnType<ViewerApi['core']['createCoreCatalogue']>;

  constructor(
    private readonly api: ViewerApi,
    private readonly blob: Blob,
    private readonly name: string,
    private readonly opts: SessionOptions = {},
  ) {
    this.every = opts.snapshotEvery ? Math.max(1, opts.snapshotEvery) : null;
    this.maxSnapshots = Math.max(4, opts.maxSnapshots ?? 48);
    this.budgetBytes = opts.stateBudgetBytes ?? 512 << 20;
    this.maxDrawn = opts.maxDrawn ?? 4096;
    this.catalogue = api.core.createCoreCatalogue();
  }

  private async rawStream(): Promise<ReadableStream<Uint8Array>> {
    const s = this.blob.stream() as ReadableStream<Uint8Array>;
    return this.gzip ? s.pipeThrough(gunzipMembers(this.name)) : s;
  }

  /** Deep-copies the state into a snapshot and says how long that took (the adaptive policy's input). */
  private snapshot(seq: number, state: StateLike, hugetlb: HugetlbCounts): number {
    const t0 = performance.now();
    this.snapshots.push({ seq, state: this.api.clone(state), hugetlb: { ...hugetlb }, nextLineOffset: this.offsets.get(seq + 1), event: null });
    this.stateBytes = estimateStateBytes(state);
    if (this.snapshots.length > this.stateLimit()) {
      // Thin out: keep the first (seq 0), every other one, and the newest.
      const last = this.snapshots.length - 1;
      this.snapshots = this.snapshots.filter((_, i) => i === 0 || i === last || i % 2 === 0);
    }
    return performance.now() - t0;
  }

  /**
   * How many states may be kept, the final one included: maxSnapshots, and no more than the memory budget holds
   * (but two at least, whatever their size: the final state and one more).
   */
  private stateLimit(): number {
    const byBudget = this.stateBytes > 0 ? Math.floor(this.budgetBytes / this.stateBytes) : Infinity;
    return Math.max(2, Math.min(this.maxSnapshots, byBudget));
  }

  /** The memory the states kept take, estimated, and the bound it is held to. */
  get memory(): { states: number; stateBytes: number; budgetBytes: number; maxStates: number } {
    return { states: this.anchors.length, stateBytes: this.stateBytes, budgetBytes: this.budgetBytes, maxStates: this.stateLimit() };
  }

  /** The single full pass: header, fold, snapshots, counter samples. */
  async load(): Promise<{ header: HeaderLike; lastSeq: number; samples: Sample[]; snapshots: number }> {
    this.gzip = await isGzip(this.blob);
    this.offsets = new LineOffsets();
    this.anchors = [];
    this.current = null;
    this.text = null;
    let bytes = 0;
    const keep = this.opts.keepDecompressedBytes ?? 512 << 20;
    // In the browser a gzip log is inflated by a worker of its own, beside this one; in Node, here.
    let raw = this.gzip ? inflateBeside(this.blob, this.name, keep, (t) => (this.text = t)) : null;
    if (!raw) {
      raw = await this.rawStream();
      if (this.gzip) raw = raw.pipeThrough(keepBytes(keep, (t) => (this.text = t)));
    }
    const stream = raw.pipeThrough(lineOffsetRecorder(this.offsets, (n) => (bytes = n)));
    const reader = this.api.events.readLogStream(stream, { file: this.name, catalogue: this.catalogue });
    const header = await reader.header();
    this.header = header;
    let state = this.api.core.initialStateFromHeader(header);
    const hugetlb: HugetlbCounts = { optimized: 0, skipped: 0, restored: 0 };
    const series = new SampleSeries(2000);
    this.snapshots = [];
    let cloneMs = this.snapshot(0, state, hugetlb);
    series.push(0, counters(state, this.api.views));
    let seq = 0;
    let sinceSeq = 0;
    let sinceT = performance.now();
    let lastEvent: Envelope | null = null;
    for await (const e of reader.events()) {
      state = this.api.core.evolve(state, e);
      seq = e.seq;
      lastEvent = e;
      countHugetlb(hugetlb, e.type);
      if (series.wants(seq)) series.push(seq, counters(state, this.api.views));
      const due = this.every
        ? seq % this.every === 0
        : seq - sinceSeq >= 2000 && performance.now() - sinceT >= 3 * cloneMs;
      if (due) {
        cloneMs = this.snapshot(seq, state, hugetlb);
        sinceSeq = seq;
        sinceT = performance.now();
        this.opts.onProgress?.(seq, bytes);
      }
    }
    this.lastSeq = seq;
    this.stateBytes = estimateStateBytes(state);
    series.push(seq, counters(state, this.api.views));
    // The final state is an anchor too, so the first frame (the last event) costs no copy and no replay.
    // The state before the first event is not kept: it is rebuilt from the header when needed.
    const snapshots = this.snapshots.length;
    const kept = this.snapshots.filter((x) => x.seq > 0);
    // with the final state, no more than the limit: drop the ones nearest to the one before them
    while (this.every === null && kept.length > 0 && kept.length + 1 > this.stateLimit()) {
      let drop = 0;
      for (let i = 1; i < kept.length; i++) if (kept[i]!.seq - kept[i - 1]!.seq < kept[drop]!.seq - (drop > 0 ? kept[drop - 1]!.seq : 0)) drop = i;
      kept.splice(drop, 1);
    }
    this.homes = kept.map((x) => x.seq);
    this.anchors = [...kept, { seq, state, hugetlb: { ...hugetlb }, nextLineOffset: this.offsets.get(seq + 1), event: lastEvent }];
    this.maxAnchors = this.anchors.length;
    this.snapshots = [];
    return { header, lastSeq: seq, samples: series.toArray(), snapshots };
  }

  /** The state after event `target` (0 = before the first event), drawn. */
  async frameAt(target: number): Promise<Frame> {
    if (!this.header) throw new Error('log not loaded');
    const want = Math.max(0, Math.min(Math.floor(target), this.lastSeq));
    const from = this.takeAnchor(want);
    let state = from.state;
    const hugetlb = from.hugetlb;
    let event = from.seq === want ? from.event : null;
    let offset = from.nextLineOffset;
    if (from.seq < want) {
      const r = await this.replayRange(from.seq, from.nextLineOffset, want, (e) => {
        state = this.api.core.evolve(state, e);
        countHugetlb(hugetlb, e.type);
      });
      event = r.last;
      offset = r.nextLineOffset;
    }
    const current: Snapshot = { seq: want, state, hugetlb, nextLineOffset: offset, event };
    this.putAnchor(current);
    this.current = current;
    this.trim();
    return this.draw(want, state, event, hugetlb);
  }

  /**
   * Removes and returns the anchor to replay from for a frame at `want`: one at `want` whose event is known, else
   * the latest one before `want` (so that event `want` is replayed and the frame can say what happened). The
   * state before the first event is rebuilt from the header rather than taken: it is small and always available.
   */
  private takeAnchor(want: number): Snapshot {
    let best = -1;
    for (let i = 0; i < this.anchors.length; i++) {
      const a = this.anchors[i]!;
      if (a.seq < want || (a.seq === want && want > 0 && a.event)) best = i;
      else break;
    }
    if (best >= 0) return this.anchors.splice(best, 1)[0]!;
    return { seq: 0, state: this.api.core.initialStateFromHeader(this.header!), hugetlb: { optimized: 0, skipped: 0, restored: 0 }, nextLineOffset: this.offsets.get(1), event: null };
  }

  private putAnchor(a: Snapshot): void {
    let i = this.anchors.length;
    while (i > 0 && this.anchors[i - 1]!.seq > a.seq) i--;
    this.anchors.splice(i, 0, a);
  }

  /** The state after the last event, as the load left it (the bench measures its size); null before a load. */
  stateAfterLoad(): StateLike | null {
    const last = this.anchors[this.anchors.length - 1];
    return last && last.seq === this.lastSeq ? last.state : null;
  }

  /** Anchors kept (snapshots and the cursor): for tests and the bench's memory figure. */
  get anchorSeqs(): number[] {
    return this.anchors.map((a) => a.seq);
  }

  /**
   * One step of idle-time upkeep: finds the first load-time snapshot position no anchor covers any more (seeks
   * moved it forward) and puts a copy of the nearest earlier anchor there, replayed forward; to keep the number
   * of states fixed it then drops the one that saves the least replay ({@link trim}). Returns false when
   * every position is covered (nothing left to do). The viewer's worker calls it while no seek is waiting.
   */
  async repair(): Promise<boolean> {
    if (!this.header) return false;
    const have = new Set(this.anchors.map((a) => a.seq));
    const home = this.homes.find((h) => h > 0 && !have.has(h));
    if (home === undefined) return false;
    let src: Snapshot | undefined;
    for (const a of this.anchors) if (a.seq < home) src = a;
    const base: Snapshot = src
      ? { seq: src.seq, state: this.api.clone(src.state), hugetlb: { ...src.hugetlb }, nextLineOffset: src.nextLineOffset, event: src.event }
      : { seq: 0, state: this.api.core.initialStateFromHeader(this.header), hugetlb: { optimized: 0, skipped: 0, restored: 0 }, nextLineOffset: this.offsets.get(1), event: null };
    let state = base.state;
    const r = await this.replayRange(base.seq, base.nextLineOffset, home, (e) => {
      state = this.api.core.evolve(state, e);
      countHugetlb(base.hugetlb, e.type);
    });
    this.putAnchor({ seq: home, state, hugetlb: base.hugetlb, nextLineOffset: r.nextLineOffset, event: r.last });
    this.trim();
    // No progress when every state kept is needed at a home position (fewer states than positions): stop.
    if (!this.anchors.some((a) => a.seq === home)) return false;
    return true;
  }

  /**
   * One step of idle-time densifying, after {@link repair} has nothing left to do: puts a state in the middle of
   * the widest gap between the states kept (at least densifyMinEvents wide), while the memory budget allows one more,
   * so later seeks replay less. The position becomes one repair keeps covered. Returns false when done.
   */
  async densify(): Promise<boolean> {
    if (!this.header || this.every !== null || this.anchors.length >= this.stateLimit()) return false;
    let widest = 0;
    let at = -1;
    let prev = 0;
    for (const a of this.anchors) {
      if (a.seq - prev > widest) {
        widest = a.seq - prev;
        at = prev + Math.floor((a.seq - prev) / 2);
      }
      prev = a.seq;
    }
    if (widest < (this.opts.densifyMinEvents ?? 4000) || at <= 0) return false;
    this.homes.push(at);
    this.homes.sort((a, b) => a - b);
    this.maxAnchors++;
    if (!(await this.repair())) return false;
    return true;
  }

  /**
   * Drops states beyond the load's count: each time the one that saves the least replay (nearest to the state
   * before it), preferring one that is not at a load-time snapshot position, never the last.
   */
  private trim(): void {
    const homes = new Set(this.homes);
    // First choice: not at a home position and not the last frame's state; then any not at a home position;
    // then any (never the last, the end of the log).
    const tiers: Array<(a: Snapshot) => boolean> = [(a) => !homes.has(a.seq) && a !== this.current, (a) => !homes.has(a.seq), () => true];
    while (this.anchors.length > this.maxAnchors && this.anchors.length > 1) {
      let drop = -1;
      for (const allowed of tiers) {
        let best = Infinity;
        for (let i = 0; i < this.anchors.length - 1; i++) {
          const a = this.anchors[i]!;
          if (!allowed(a)) continue;
          const gap = a.seq - (i > 0 ? this.anchors[i - 1]!.seq : 0);
          if (gap < best) {
            best = gap;
            drop = i;
          }
        }
        if (drop >= 0) break;
      }
      if (drop < 0) break;
      this.anchors.splice(drop, 1);
    }
  }

  private draw(want: number, state: StateLike, event: Envelope | null, hugetlb: HugetlbCounts): Frame {
    const sections = drawSectionsUpTo(state, this.maxDrawn);
    const pm = drawPmds(state, this.maxDrawn);
    return {
      seq: want,
      lastSeq: this.lastSeq,
      event: event ? { seq: event.seq, type: event.type, op: event.op, summary: summarize(event) } : null,
      sections: sections.items,
      sectionsNotDrawn: sections.dropped,
      pmdsNotDrawn: pm.dropped,
      subsectionsPerSection: state.machine.geometry.subsectionsPerSection,
      blocks: countBlocks(state),
      pmds: pm.pmds,
      pmdCounts: pm.counts,
      counters: counters(state, this.api.views),
      hugetlb: { ...hugetlb },
    };
  }

  /**
   * Applies events (fromSeq, to] read from the log starting at byte `offset` (the line after event fromSeq; −1 =
   * unknown, read from the top). Returns the last event applied and the offset of the line after it.
   */
  private async replayRange(fromSeq: number, offset: number, to: number, apply: (e: Envelope) => void): Promise<{ last: Envelope | null; nextLineOffset: number }> {
    const start = offset >= 0 ? offset : 0;
    const plain = this.gzip ? this.text : this.blob;
    const stream = plain ? (plain.slice(start).stream() as ReadableStream<Uint8Array>) : (await this.rawStream()).pipeThrough(skipBytes(start));
    const reader = stream.getReader();
    const dec = new TextDecoder();
    let line = offset >= 0 ? fromSeq + 1 : 0;
    let carry: Uint8Array = new Uint8Array(0);
    let pos = start; // byte offset of carry[0] in the decompressed log
    let last: Envelope | null = null;
    let next = -1;
    // Returns true once event `to` is applied.
    const take = (text: string, end: number): boolean => {
      const lineNo = line++;
      if (offset < 0 && lineNo === 0) return false; // the header
      if (text.trim() === '') return false;
      const e = this.eventOf(text, lineNo);
      if (e.seq <= fromSeq) return false;
      apply(e);
      last = e;
      next = end;
      return e.seq >= to;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const buf = carry.length ? concat(carry, value) : value;
        const lastNl = buf.lastIndexOf(10);
        if (lastNl < 0) {
          carry = buf.slice();
          continue;
        }
        // Decode every whole line of the chunk at once: a newline byte is never inside a UTF-8 sequence, so line
        // i of the text ends at the i-th newline byte.
        const lines = dec.decode(buf.subarray(0, lastNl)).split('\n');
        let nl = -1;
        for (const text of lines) {
          nl = buf.indexOf(10, nl + 1);
          if (take(text, pos + nl + 1)) return { last, nextLineOffset: next };
        }
        pos += lastNl + 1;
        carry = buf.slice(lastNl + 1);
      }
      if (carry.length) take(dec.decode(carry), pos + carry.length);
    } finally {
      reader.releaseLock();
    }
    return { last, nextLineOffset: next };
  }

  /**
   * An event line read again on a seek. load() validated every line of this same Blob (a Blob never changes), so
   * a seek only parses and upcasts; a line that does not parse gets the reader's located error.
   */
  private eventOf(text: string, lineNo: number): Envelope {
    let e: Envelope;
    try {
      e = JSON.parse(text) as Envelope;
    } catch {
      return this.catalogue.upcast(this.api.events.parseEventLine(text, { file: this.name, line: lineNo + 1 }, this.catalogue));
    }
    return this.catalogue.upcast(e);
  }

}
