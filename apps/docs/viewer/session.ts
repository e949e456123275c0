/**
 * One opened log in the viewer: folds it once through core's `evolve` (keeping periodic snapshots and the byte
 * offset of the line after each), then answers "the state after event N" from the nearest kept state at or before
 * N, replaying forward from there. Runs in a Web Worker in the page and directly in Node in the tests; memory is
 * O(snapshots + samples + chunks), never O(events).
 *
 * The snapshots are *packed* states (core's packState: the big tables as typed-array columns, ~6 MiB for the 6 TiB
 * state of the viewer bench where a deep copy takes ~20 MiB of small objects the GC walks again and again). Each is
 * packed after the one before it and shares the chunks of the tables that did not change (a few hundred KiB of new
 * columns a snapshot in the viewer bench, and a read of the state instead of a pack of all of it: ~5 ms where a
 * whole pack took 20–60), so the load takes one every few thousand events; a seek unpacks the nearest one
 * before its target (or goes on from the last frame's state, the *cursor*, when that is nearer) and replays
 * forward. The unpack writes into the cursor's own table entries (core's unpackStateInto) rather than making new
 * ones: the cursor is given up anyway, and ~200,000 fresh objects a seek cost most of its time in allocation and GC.
 * Snapshots are never written, so a seek leaves them as they were; while the viewer is idle
 * {@link LogSession.densify} adds more in the widest gaps, up to a memory budget.
 */
import type { Envelope, HeaderLike, KeptState, ViewerApi } from './core-adapter.js';
export { estimateStateBytes } from './core-adapter.js';
import type { Frame, Sample } from './protocol.js';
import { isGzip, openGzipLog, type GzipLog } from './gzip-log.js';
import { FramedLogReader } from './framed-reader.js';
import { readBeside } from './read-beside.js';
import { SampleSeries, countBlocks, counters, drawPmds, drawSectionsUpTo, type StateLike } from './project.js';
import { floorIndex } from './sorted.js';

export interface SessionOptions {
  /**
   * Fixed number of events between snapshots. Without it the session adapts: a snapshot is taken when at least
   * `snapshotMinEvents` (default 2000) events and `snapshotCostRatio` (default 8) times a packing time (the least of
   * the last three snapshots') of the load's own work (busy time: not the waits for bytes) have passed — so packing
   * takes about a ninth of the load's work (seekReplayMs bounds the gaps besides) — and at most `maxSnapshots`
   * (default 256) are kept (every other one is dropped when full). A pack shares what did not change since the
   * snapshot before (core's packState), so it costs a read of the state plus a pack of what changed: 4 ms a pack
   * on average for the viewer bench's log in Node, where packing whole states took 20.
   */
  snapshotEvery?: number;
  snapshotMinEvents?: number;
  snapshotCostRatio?: number;
  /**
   * A snapshot is taken, whatever the packing costs, once the events since the last one took the load this many
   * milliseconds to read and apply (default 100): a seek replays events about as fast, so this bounds the replay of
   * the slowest seek after the load (besides its unpack).
   */
  seekReplayMs?: number;
  maxSnapshots?: number;
  /**
   * Memory the snapshots may take together, as core's packedBytesOf counts packed states (the parts two share
   * counted once; default 512 MiB): the load keeps fewer snapshots (every other one dropped) when they would take
   * more, and {@link LogSession.densify} adds states while idle only up to it. `maxSnapshots` bounds the count too.
   */
  stateBudgetBytes?: number;
  /** {@link LogSession.densify} splits no gap narrower than this many events (default 4000). */
  densifyMinEvents?: number;
  /** Largest number of sections / PMDs put in one frame. */
  maxDrawn?: number;
  /**
   * A gzip log whose members do not say their sizes (not memhp's: gzip(1)'s) has its decompressed text kept, up to
   * this many bytes (default 512 MiB), as a Blob (which a browser may keep on disk): a seek then reads from the
   * nearest snapshot's byte offset, as in a plain log. A longer log is decompressed again from the top for every
   * seek. memhp's gzip logs keep no text: a seek inflates the members it reads (gzip-log.ts).
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
  kept: KeptState;
  hugetlb: HugetlbCounts;
  /** Byte offset (in the decompressed log) of a line at or before the one holding event seq + 1 … */
  nextLineOffset: number;
  /** … the one holding event lineSeq + 1 (lineSeq ≤ seq; a seek reads and skips the events up to seq). */
  lineSeq: number;
  /** The event `seq` itself, when known (an anchor a seek moved there): a frame at `seq` then needs no replay. */
  event: Envelope | null;
}

/** A live state at a position (the cursor, or one unpacked for a seek). */
interface Current {
  seq: number;
  state: StateLike;
  hugetlb: HugetlbCounts;
  nextLineOffset: number;
  lineSeq: number;
  event: Envelope | null;
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

/**
 * Where lines start, noted at the end of every batch the load read (one chunk of the log's bytes, a few hundred
 * lines): the offset of the line holding event seq + 1, for ascending seqs. 16 bytes a chunk; the reader finds
 * them for free (a chunk's last newline), where noting every line's offset cost a fifth of the load in Chromium.
 */
export class LineMarks {
  private seqs = new Float64Array(256);
  private offs = new Float64Array(256);
  private n = 0;
  add(seq: number, offset: number): void {
    if (offset < 0 || (this.n > 0 && seq <= this.seqs[this.n - 1]!)) return;
    if (this.n === this.seqs.length) {
      const s = new Float64Array(this.n * 2);
      const o = new Float64Array(this.n * 2);
      s.set(this.seqs);
      o.set(this.offs);
      this.seqs = s;
      this.offs = o;
    }
    this.seqs[this.n] = seq;
    this.offs[this.n++] = offset;
  }
  /** Index of the last mark at or before seq, or −1. */
  private floorIndex(seq: number): number {
    return floorIndex(this.seqs, this.n, seq);
  }
  /** The nearest mark at or before seq (where a replay to seq + 1 can start reading), or offset −1: the top. */
  floor(seq: number): { seq: number; offset: number } {
    const i = this.floorIndex(seq);
    return i < 0 ? { seq: 0, offset: -1 } : { seq: this.seqs[i]!, offset: this.offs[i]! };
  }
  /** An offset at or after the end of the line holding event seq (a line start), or −1 when none is noted. */
  endOf(seq: number): number {
    // the first mark past seq − 1: the end of the chunk that holds event seq's line
    const j = this.floorIndex(seq - 1) + 1;
    return j < this.n ? this.offs[j]! : -1;
  }
}

/** The chunks of a stream as an async iterable. */
async function* chunksOf(src: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const r = src.getReader();
  try {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      yield value;
    }
  } finally {
    await r.cancel().catch(() => undefined);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b.slice();
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** What a load found, and where its time went. */
export interface LoadResult {
  header: HeaderLike;
  lastSeq: number;
  samples: Sample[];
  snapshots: number;
  /** Milliseconds the load waited for the log's bytes (its reading or inflating worker behind). */
  waitMs: number;
  /** Milliseconds it spent packing snapshots. */
  packMs: number;
}

export class LogSession {
  private header: HeaderLike | null = null;
  /** The snapshots kept, in seq order (never written: a seek unpacks one). */
  private snapshots: Snapshot[] = [];
  private lastSeq = 0;
  /** A gzip log: its text for the load, and for seeks (null: a plain log). */
  private gz: GzipLog | null = null;
  private readonly every: number | null;
  private readonly maxSnapshots: number;
  private readonly budgetBytes: number;
  /** Bytes of one kept state alone, the largest taken so far (core's packState counts them). */
  private stateBytes = 0;
  /** Bytes the snapshots kept take together (shared chunks counted once). */
  private keptBytes = 0;
  private readonly maxDrawn: number;
  private marks = new LineMarks();
  /** The state of the last frame: a seek after it that is nearer to it than to a snapshot goes on from it. */
  private current: Current | null = null;
  /** Milliseconds an unpack took (the latest), and milliseconds an event takes to replay: a seek's cost model. */
  private unpackMs = 30;
  private eventMs = 0.003;
  private catalogue: ReturnType<ViewerApi['core']['createCoreCatalogue']>;

  constructor(
    private readonly api: ViewerApi,
    private readonly blob: Blob,
    private readonly name: string,
    private readonly opts: SessionOptions = {},
  ) {
    this.every = opts.snapshotEvery ? Math.max(1, opts.snapshotEvery) : null;
    this.maxSnapshots = Math.max(4, opts.maxSnapshots ?? 256);
    this.budgetBytes = opts.stateBudgetBytes ?? 512 << 20;
    this.maxDrawn = opts.maxDrawn ?? 4096;
    this.catalogue = api.core.createCoreCatalogue();
  }

  /**
   * Packs the state into a snapshot (kept in seq order), sharing what did not change with the kept snapshot before
   * it (core's packState compares chunk by chunk), and says how long that took (the adaptive policy's input).
   */
  private snapshot(seq: number, state: StateLike, hugetlb: HugetlbCounts, event: Envelope | null, line: { seq: number; offset: number }): number {
    const t0 = performance.now();
    let i = this.snapshots.length;
    while (i > 0 && this.snapshots[i - 1]!.seq > seq) i--;
    const prev = i > 0 ? this.snapshots[i - 1]! : undefined;
    const kept = this.api.keep(state, prev?.kept);
    this.stateBytes = Math.max(this.stateBytes, kept.bytes);
    const snap: Snapshot = { seq, kept, hugetlb: { ...hugetlb }, nextLineOffset: line.offset, lineSeq: line.seq, event };
    if (prev && prev.seq === seq) {
      this.snapshots[i - 1] = snap;
      this.keptBytes = this.api.keptBytes(this.snapshots.map((x) => x.kept));
    } else {
      this.snapshots.splice(i, 0, snap);
      // what it shares with prev is counted already
      this.keptBytes += kept.bytes - (prev ? kept.sharedBytes : 0);
    }
    return performance.now() - t0;
  }

  /** Whether the snapshots kept are over maxSnapshots or over the memory budget. */
  private overLimit(): boolean {
    return this.snapshots.length > this.maxSnapshots || (this.keptBytes > this.budgetBytes && this.snapshots.length > 2);
  }

  /** Drops every other snapshot (keeping the first and the last) while there are more than the limits allow. */
  private thin(): void {
    while (this.overLimit()) {
      const last = this.snapshots.length - 1;
      this.snapshots = this.snapshots.filter((_, i) => i === 0 || i === last || i % 2 === 0);
      this.keptBytes = this.api.keptBytes(this.snapshots.map((x) => x.kept));
    }
  }

  /**
   * The memory the states kept take: `states` snapshots taking `keptBytes` together (at most `budgetBytes`; each
   * would take at most `stateBytes` alone, but a snapshot shares what did not change with the one before it), at
   * most `maxStates` of them; besides which the session holds one live state: the cursor, which a seek unpacks its
   * snapshot into (no second live state; only idle-time densify makes one more, while it replays).
   */
  get memory(): { states: number; stateBytes: number; budgetBytes: number; maxStates: number; keptBytes: number } {
    return {
      states: this.snapshots.length,
      stateBytes: this.stateBytes,
      budgetBytes: this.budgetBytes,
      maxStates: this.maxSnapshots,
      keptBytes: this.keptBytes,
    };
  }

  /** The single full pass: header, fold, snapshots, counter samples. */
  async load(): Promise<LoadResult> {
    const keep = this.opts.keepDecompressedBytes ?? 512 << 20;
    this.gz = (await isGzip(this.blob)) ? await openGzipLog(this.blob, this.name, keep) : null;
    this.marks = new LineMarks();
    this.snapshots = [];
    this.current = null;
    this.stateBytes = 0;
    this.keptBytes = 0;
    // In the browser a gzip log is inflated by a worker of its own, beside this one, and a plain log is read by one
    // (read-beside.ts); in Node, here.
    const raw = this.gz ? this.gz.text : (readBeside(this.blob, this.name) ?? (this.blob.stream() as ReadableStream<Uint8Array>));
    const tap = new FramedLogReader(chunksOf(raw), this.name, this.catalogue, this.api.events);
    const header = await tap.header();
    this.header = header;
    this.marks.add(0, tap.firstLineOffset);
    let state = this.api.core.initialStateFromHeader(header);
    const hugetlb: HugetlbCounts = { optimized: 0, skipped: 0, restored: 0 };
    const series = new SampleSeries(2000);
    series.push(0, counters(state, this.api.views));
    let seq = 0;
    let sinceSeq = 0;
    let packMs = 0;
    /** The last three packing times: the policy goes by the least (see below). */
    const packs: number[] = [];
    let packTotal = 0;
    const t0 = performance.now();
    /** Milliseconds of the load's own work so far (not waiting for bytes: a gzip log's inflate runs beside it). */
    let busy = 0;
    let sinceBusy = 0;
    const minEvents = this.opts.snapshotMinEvents ?? 2000;
    const ratio = this.opts.snapshotCostRatio ?? 8;
    const seekReplayMs = this.opts.seekReplayMs ?? 100;
    let lastEvent: Envelope | null = null;
    // Batches (one per chunk of the log's bytes), as memhp replay reads: an async step per event cost ~10% of the load.
    for await (const { events: batch, end } of tap.batches()) {
      // where the batch starts: a snapshot inside it (snapshotEvery) notes that, and a seek from it skips the events
      // before it (a few hundred at most)
      const start = this.marks.floor(seq);
      for (const e of batch) {
        state = this.api.core.evolve(state, e);
        seq = e.seq;
        lastEvent = e;
        countHugetlb(hugetlb, e.type);
        if (series.wants(seq)) series.push(seq, counters(state, this.api.views));
        if (this.every && seq % this.every === 0) {
          packTotal += this.snapshot(seq, state, hugetlb, e, e === batch[batch.length - 1] ? { seq, offset: end } : start);
          this.thin();
          this.opts.onProgress?.(seq, tap.bytes);
        }
      }
      this.marks.add(seq, end);
      busy = performance.now() - t0 - tap.waitMs - packTotal;
      // Adaptive snapshots are taken between batches, by busy time: packing takes at most 1/(ratio+1) of the work
      // (wall time would count the waits for a gzip log's inflate and pack more often than that).
      // And whatever the packing costs, no more events between two snapshots than the load read and applied in
      // seekReplayMs (a seek replays about as fast): the widest gap bounds the slowest seek after the load.
      const wide = seq > 0 && (seq - sinceSeq) * (busy / seq) >= seekReplayMs;
      if (!this.every && lastEvent && seq - sinceSeq >= minEvents && (busy - sinceBusy >= ratio * packMs || wide)) {
        const ms = this.snapshot(seq, state, hugetlb, lastEvent, this.marks.floor(seq));
        packTotal += ms;
        // the least of the last three: a pack the machine preempted measures many times its work, and waiting
        // `ratio` times that for the next left gaps of 100,000+ events (seeks into them replay that many) on a busy
        // machine; packing time grows with the state, so the least of three lags only a little
        packs.push(ms);
        if (packs.length > 3) packs.shift();
        packMs = Math.min(...packs);
        this.thin();
        sinceSeq = seq;
        sinceBusy = busy;
        this.opts.onProgress?.(seq, tap.bytes);
      }
    }
    this.lastSeq = seq;
    // a seek's cost model: the time an event took to read and apply (busy time less packing)
    if (seq > 0) this.eventMs = Math.max(1e-4, busy / seq);
    series.push(seq, counters(state, this.api.views));
    // The final state is kept too (a seek back to the end unpacks it), and stays live as the cursor, so the first
    // frame (the last event) costs no unpack and no replay.
    const endLine = this.marks.floor(seq);
    if (seq > 0 && this.snapshots[this.snapshots.length - 1]?.seq !== seq) packTotal += this.snapshot(seq, state, hugetlb, lastEvent, endLine);
    this.thin();
    this.current = { seq, state, hugetlb: { ...hugetlb }, nextLineOffset: endLine.offset, lineSeq: endLine.seq, event: lastEvent };
    return { header, lastSeq: seq, samples: series.toArray(), snapshots: this.snapshots.length, waitMs: tap.waitMs, packMs: packTotal };
  }

  /** The state after event `target` (0 = before the first event), drawn. */
  async frameAt(target: number): Promise<Frame> {
    if (!this.header) throw new Error('log not loaded');
    const want = Math.max(0, Math.min(Math.floor(target), this.lastSeq));
    const from = this.startFor(want);
    let state = from.state;
    const hugetlb = from.hugetlb;
    let event = from.seq === want ? from.event : null;
    let offset = from.nextLineOffset;
    let lineSeq = from.lineSeq;
    if (from.seq < want) {
      // the cursor is given up while it is replayed forward (a failed replay must not leave it half-way)
      this.current = null;
      const r = await this.replayRange(from.seq, from.nextLineOffset, from.lineSeq, want, (e) => {
        state = this.api.core.evolve(state, e);
        countHugetlb(hugetlb, e.type);
      });
      event = r.last;
      offset = r.nextLineOffset;
      lineSeq = want;
    }
    this.current = { seq: want, state, hugetlb, nextLineOffset: offset, lineSeq, event };
    return this.draw(want, state, event, hugetlb);
  }

  /**
   * The live state to replay forward from for a frame at `want`: the cursor when it is at or before `want` and
   * nearer than the nearest snapshot (counting an unpack as the events that take as long to replay), else a new
   * state unpacked from that snapshot, or built from the header before the first event. A state at `want` serves
   * only when its event is known (so the frame can say what happened).
   */
  private startFor(want: number): Current {
    const usable = (x: { seq: number; event: Envelope | null }) => x.seq < want || (x.seq === want && (want === 0 || x.event !== null));
    let snap: Snapshot | null = null;
    for (const x of this.snapshots) {
      if (usable(x)) snap = x;
      else if (x.seq > want) break;
    }
    const cur = this.current;
    const unpackEvents = this.unpackMs / this.eventMs;
    const snapCost = snap ? want - snap.seq + unpackEvents : want + unpackEvents;
    if (cur && usable(cur) && want - cur.seq <= snapCost) return cur;
    if (!snap) return { seq: 0, state: this.api.core.initialStateFromHeader(this.header!), hugetlb: { optimized: 0, skipped: 0, restored: 0 }, ...this.topLine(), event: null };
    const t0 = performance.now();
    // the cursor is given up: the snapshot is unpacked into its entries (no new objects for the GC), so it is no
    // cursor any more from here on
    this.current = null;
    const state = cur ? this.api.unkeepInto(snap.kept, cur.state) : this.api.unkeep(snap.kept);
    this.unpackMs = performance.now() - t0;
    return { seq: snap.seq, state, hugetlb: { ...snap.hugetlb }, nextLineOffset: snap.nextLineOffset, lineSeq: snap.lineSeq, event: snap.event };
  }

  /** The first event line: where a replay from before the first event starts reading. */
  private topLine(): { nextLineOffset: number; lineSeq: number } {
    const m = this.marks.floor(0);
    return { nextLineOffset: m.offset, lineSeq: 0 };
  }

  /** The state after the last event, as the load left it (the bench measures its size); null before a load. */
  stateAfterLoad(): StateLike | null {
    return this.current && this.current.seq === this.lastSeq ? this.current.state : null;
  }

  /** The positions of the snapshots kept: for tests and the bench's memory figure. */
  get snapshotSeqs(): number[] {
    return this.snapshots.map((a) => a.seq);
  }

  /**
   * One step of idle-time densifying: puts a snapshot in the middle of the widest gap between the snapshots kept
   * (the end of the log counting as one; at least densifyMinEvents wide) while the memory budget allows one more,
   * so later seeks replay less. Returns false when done. `stop` is asked between chunks of the replay: when it says
   * true (a seek is waiting) the step is given up, nothing added, and densify returns true (there is still work).
   */
  async densify(stop?: () => boolean): Promise<boolean> {
    if (!this.header || this.every !== null || this.snapshots.length >= this.maxSnapshots || this.keptBytes >= this.budgetBytes) return false;
    let widest = 0;
    let at = -1;
    let from: Snapshot | null = null;
    let prev: Snapshot | null = null;
    const ends = [...this.snapshots.map((x) => x.seq), this.lastSeq];
    for (let i = 0; i < ends.length; i++) {
      const lo = prev ? prev.seq : 0;
      if (ends[i]! - lo > widest) {
        widest = ends[i]! - lo;
        at = lo + Math.floor(widest / 2);
        from = prev;
      }
      prev = this.snapshots[i] ?? null;
    }
    if (widest < (this.opts.densifyMinEvents ?? 4000) || at <= 0) return false;
    let state = from ? this.api.unkeep(from.kept) : this.api.core.initialStateFromHeader(this.header);
    const hugetlb = from ? { ...from.hugetlb } : { optimized: 0, skipped: 0, restored: 0 };
    const r = await this.replayRange(
      from ? from.seq : 0,
      from ? from.nextLineOffset : this.topLine().nextLineOffset,
      from ? from.lineSeq : 0,
      at,
      (e) => {
        state = this.api.core.evolve(state, e);
        countHugetlb(hugetlb, e.type);
      },
      stop,
    );
    if (r.stopped) return true;
    this.snapshot(at, state, hugetlb, r.last, { seq: at, offset: r.nextLineOffset });
    if (this.keptBytes > this.budgetBytes) {
      // no room for it after all: taken back, and no more
      this.snapshots = this.snapshots.filter((x) => x.seq !== at);
      this.keptBytes = this.api.keptBytes(this.snapshots.map((x) => x.kept));
      return false;
    }
    return true;
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
   * Applies events (fromSeq, to] read from the log starting at byte `offset` (the line holding event lineSeq + 1,
   * lineSeq ≤ fromSeq: the events up to fromSeq are read and skipped; −1 = unknown, read from the top). Returns the
   * last event applied and the offset of the line after it. A Blob is read no further than the end of the chunk the
   * load read the line of event `to` in: line N holds event N (the load's reader refuses a blank line and a seq out
   * of step), and the load noted where each of its chunks ends; a Blob's stream reads ahead of what is taken, and an
   * open-ended slice had the browser push bytes a seek never parses.
   */
  private async replayRange(
    fromSeq: number,
    offset: number,
    lineSeq: number,
    to: number,
    apply: (e: Envelope) => void,
    stop?: () => boolean,
  ): Promise<{ last: Envelope | null; nextLineOffset: number; stopped?: true }> {
    const start = offset >= 0 ? offset : 0;
    const after = offset >= 0 ? this.marks.endOf(to) : -1;
    const stream = this.gz
      ? this.gz.read(start, after > start ? after : -1)
      : (this.blob.slice(start, after > start ? after : undefined).stream() as ReadableStream<Uint8Array>);
    const reader = stream.getReader();
    const dec = new TextDecoder();
    let line = offset >= 0 ? lineSeq + 1 : 0;
    let carry: Uint8Array = new Uint8Array(0);
    let carryPos = start; // byte offset of carry[0] in the decompressed log
    let last: Envelope | null = null;
    let next = -1;
    // Returns true once event `to` is applied.
    const take = (text: string, end: number): boolean => {
      const lineNo = line++;
      if (lineNo <= fromSeq) return false; // the header (line 0), or an event up to fromSeq
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
        if (stop?.()) return { last, nextLineOffset: next, stopped: true };
        const base = carryPos + carry.length; // byte offset of value[0]
        let from = 0;
        if (carry.length) {
          // only the line that straddles two chunks is put together (copying whole chunks onto the carry cost
          // 15 ms a seek in Chromium)
          const first = value.indexOf(10);
          if (first < 0) {
            carry = concat(carry, value);
            continue;
          }
          if (take(dec.decode(concat(carry, value.subarray(0, first))), base + first + 1)) return { last, nextLineOffset: next };
          from = first + 1;
        }
        const lastNl = value.lastIndexOf(10);
        if (lastNl >= from) {
          // Line N holds event N (line 0 the header; the load's reader refused blank lines and seqs out of step):
          // the lines up to fromSeq are passed over by their newline bytes, never decoded or parsed, and none past
          // event `to` is decoded (a chunk of a gzip log's text is 256 KiB, ~1,500 lines).
          while (line <= fromSeq && from <= lastNl) {
            from = value.indexOf(10, from) + 1;
            line++;
          }
          let end = lastNl;
          const needed = to - line + 1;
          if (needed > 0) {
            end = from - 1;
            for (let k = 0; k < needed && end < lastNl; k++) end = value.indexOf(10, end + 1);
          }
          // (and should event `to` not be where it was looked for, the rest of the chunk's lines after all)
          for (const [a, b] of [[from, end], [end + 1, lastNl]] as const) {
            if (b < a) continue;
            // Decode the whole lines at once: a newline byte is never inside a UTF-8 sequence, so line i of the
            // text ends at the i-th newline byte.
            const lines = dec.decode(value.subarray(a, b)).split('\n');
            let nl = a - 1;
            for (const text of lines) {
              nl = value.indexOf(10, nl + 1);
              if (take(text, base + nl + 1)) return { last, nextLineOffset: next };
            }
          }
          from = lastNl + 1;
        }
        carry = value.slice(from);
        carryPos = base + from;
      }
      if (carry.length) take(dec.decode(carry), carryPos + carry.length);
    } finally {
      // the rest of the range is not wanted: cancelled, not merely let go of (a released reader leaves the stream
      // open: a Blob's read ahead, or a gzip log's inflate worker inflating members for a read nobody takes); not
      // waited for, so the frame does not wait on it either
      reader.cancel().catch(() => undefined);
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
