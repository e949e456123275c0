/**
 * The run summary, folded from the event stream (live or replayed, so `run` and `replay --report summary` agree):
 * memory blocks and sections added and onlined, memory added, memmap bytes by source (boot / buddy / altmap),
 * PMD vs PTE mappings, HVO pages freed and skipped, and command failures by errno. It counts what events say;
 * it decides nothing.
 */
import type { Envelope } from '../sim.js';

export interface RunSummary {
  events: number;
  commands: number;
  blocksAdded: number;
  blocksRemoved: number;
  blocksOnlined: number;
  blocksOfflined: number;
  sectionsAdded: number;
  memoryAddedBytes: bigint;
  memoryRemovedBytes: bigint;
  memmapBytesBySource: Record<string, bigint>;
  memmapBytesFreed: Record<string, bigint>;
  mappings: { pmd: number; pte: number; pmdFallbacks: number };
  /** vmemmap page-table pages allocated after boot (never from the altmap, apps/docs/kernel/vmemmap.md#sources). */
  pgtablePages: number;
  hvo: { pagesFreed: number; pagesRestored: number; restoreFailures: number; hugepagesOptimized: number; hugepagesSkipped: number; skipReasons: Record<string, number> };
  failuresByErrno: Record<string, number>;
  warnings: number;
  faultsInjected: number;
  /** Resource bytes requested / released by the running command; committed when it returns 0. */
  pending: { op: number; added: bigint; removed: bigint };
}

type P = Record<string, unknown>;
const big = (x: unknown): bigint => {
  try {
    return typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint' ? BigInt(x) : 0n;
  } catch {
    return 0n;
  }
};
const num = (x: unknown): number => (typeof x === 'number' ? x : 0);

// the value of each ASCII hex digit, -1 for any other character
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let c = 0; c < 128; c++) {
  const l = c | 32;
  if (c >= 48 && c <= 57) HEX_DIGIT[c] = c - 48;
  else if (l >= 97 && l <= 102) HEX_DIGIT[c] = l - 87;
}
const digitAt = (h: string, i: number): number => {
  const c = h.charCodeAt(i);
  return c < 128 ? HEX_DIGIT[c]! : -1;
};
const isHexPrefixed = (h: string): boolean => h.charCodeAt(0) === 48 && (h.charCodeAt(1) | 32) === 120;
const LOW_DIGITS = 13;
let lastSpan = -1;
let lastSpanBig = 0n;
/**
 * big(end) - big(start), for the '0x…' addresses of every vmemmap event without parsing two bigints an event
 * (a sweep point has thousands): when both have one length and the same digits but for their last 13 (52 bits,
 * exact in a double), the difference is taken in doubles and the last one's bigint is reused. Anything else —
 * other lengths, a carry into the higher digits, a non-hex character, a number — goes the bigint way.
 */
function span(start: unknown, end: unknown): bigint {
  if (typeof start === 'string' && typeof end === 'string' && start.length === end.length && start.length > 2 && isHexPrefixed(start) && isHexPrefixed(end)) {
    const len = start.length;
    const low = Math.max(2, len - LOW_DIGITS);
    let i = 2;
    while (i < low && start.charCodeAt(i) === end.charCodeAt(i) && digitAt(start, i) >= 0) i++;
    if (i === low) {
      let a = 0;
      let b = 0;
      for (; i < len; i++) {
        const x = digitAt(start, i);
        const y = digitAt(end, i);
        if (x < 0 || y < 0) break;
        a = a * 16 + x;
        b = b * 16 + y;
      }
      if (i === len) {
        const d = b - a;
        if (d !== lastSpan) {
          lastSpan = d;
          lastSpanBig = BigInt(d);
        }
        return lastSpanBig;
      }
    }
  }
  return big(end) - big(start);
}

export function emptySummary(): RunSummary {
  return {
    events: 0,
    commands: 0,
    blocksAdded: 0,
    blocksRemoved: 0,
    blocksOnlined: 0,
    blocksOfflined: 0,
    sectionsAdded: 0,
    memoryAddedBytes: 0n,
    memoryRemovedBytes: 0n,
    memmapBytesBySource: {},
    memmapBytesFreed: {},
    mappings: { pmd: 0, pte: 0, pmdFallbacks: 0 },
    pgtablePages: 0,
    hvo: { pagesFreed: 0, pagesRestored: 0, restoreFailures: 0, hugepagesOptimized: 0, hugepagesSkipped: 0, skipReasons: {} },
    failuresByErrno: {},
    warnings: 0,
    faultsInjected: 0,
    pending: { op: -1, added: 0n, removed: 0n },
  };
}

/** Add one event. Boot-time events (op 0) count as boot: blocks and memory "added" mean hot-added. */
export function addEvent(s: RunSummary, e: Envelope): void {
  s.events++;
  const p = (e.payload ?? {}) as P;
  const hot = e.op !== 0;
  switch (e.type) {
    case 'command.end':
      s.commands++;
      // A failed add requests the region and releases it again (apps/docs/kernel/hotplug.md#add-steps step 0c then 1): count neither.
      if (p.result === 0 && s.pending.op === e.op) {
        s.memoryAddedBytes += s.pending.added;
        s.memoryRemovedBytes += s.pending.removed;
      }
      s.pending = { op: -1, added: 0n, removed: 0n };
      if (p.result !== 0 && p.result !== 'ok' && typeof p.errno === 'number' && p.errno !== 0) {
        const name = typeof p.result === 'string' ? p.result.replace(/^-/, '') : `errno ${p.errno}`;
        s.failuresByErrno[name] = (s.failuresByErrno[name] ?? 0) + 1;
      }
      break;
    case 'memory_block.create':
      if (hot) s.blocksAdded++;
      break;
    case 'memory_block.remove':
      s.blocksRemoved++;
      break;
    case 'memory_block.state':
      if (p.to === 'online' && p.from !== 'online') s.blocksOnlined++;
      if (p.to === 'offline' && p.from !== 'offline') s.blocksOfflined++;
      break;
    case 'section.mark_present':
      if (hot) s.sectionsAdded += 'endSection' in p ? num(p.endSection) - num(p.startSection) + 1 : 1;
      break;
    case 'resource.request':
      // Resource ends are inclusive, as /proc/iomem prints them.
      if (hot && p.result === 0 && typeof p.name === 'string' && p.name.startsWith('System RAM')) pend(s, e.op).added += big(p.end) - big(p.start) + 1n;
      break;
    case 'resource.release':
      if (hot) pend(s, e.op).removed += big(p.end) - big(p.start) + 1n;
      break;
    case 'vmemmap.populate': {
      const bytes = span(p.start, p.end);
      const src = String(p.source ?? 'unknown');
      s.memmapBytesBySource[src] = (s.memmapBytesBySource[src] ?? 0n) + bytes;
      if (p.granularity === 'pmd') s.mappings.pmd++;
      else s.mappings.pte += Number(bytes) > 0 ? 1 : 0;
      if (p.fallback) s.mappings.pmdFallbacks++;
      break;
    }
    case 'vmemmap.pgtable_alloc':
      if (hot) s.pgtablePages++;
      break;
    case 'vmemmap.pgtable_free':
      if (hot) s.pgtablePages--;
      break;
    case 'vmemmap.depopulate': {
      const to = String(p.to ?? 'unknown');
      s.memmapBytesFreed[to] = (s.memmapBytesFreed[to] ?? 0n) + span(p.start, p.end);
      break;
    }
    case 'hvo.optimize':
      s.hvo.hugepagesOptimized++;
      // freedBoot + freedBuddy: the vmemmap pages given back (6.2+: all w, a new head page is taken separately).
      s.hvo.pagesFreed += num(p.freedBoot) + num(p.freedBuddy);
      break;
    case 'hvo.restore':
      s.hvo.pagesRestored += num(p.pages);
      break;
    case 'hvo.skip': {
      s.hvo.hugepagesSkipped++;
      const why = String(p.reason ?? 'unknown');
      s.hvo.skipReasons[why] = (s.hvo.skipReasons[why] ?? 0) + 1;
      break;
    }
    case 'hvo.restore_fail':
      s.hvo.restoreFailures++;
      break;
    case 'kernel.warn':
      s.warnings++;
      break;
    case 'fault.inject':
      s.faultsInjected++;
      break;
  }
}

function pend(s: RunSummary, op: number): RunSummary['pending'] {
  if (s.pending.op !== op) s.pending = { op, added: 0n, removed: 0n };
  return s.pending;
}

export function summarize(events: Iterable<Envelope>): RunSummary {
  const s = emptySummary();
  for (const e of events) addEvent(s, e);
  return s;
}
