/** Human and JSON forms of a {@link RunSummary}. */
import type { RunSummary } from './summary.js';
import { humanBytes } from '../parse/size.js';
import { kv, type Out } from './output.js';

const bytesLine = (m: Record<string, bigint>): string =>
  Object.keys(m).length === 0
    ? '0'
    : Object.entries(m)
        .map(([k, v]) => `${k} ${humanBytes(v)}`)
        .join(', ');

export function renderSummary(out: Out, s: RunSummary): string {
  const fails = Object.entries(s.failuresByErrno);
  return kv(out, [
    ['commands', s.commands],
    ['blocks added / removed', `${s.blocksAdded} / ${s.blocksRemoved}`],
    ['blocks onlined / offlined', `${s.blocksOnlined} / ${s.blocksOfflined}`],
    ['sections added', s.sectionsAdded],
    ['memory added / removed', `${humanBytes(s.memoryAddedBytes)} / ${humanBytes(s.memoryRemovedBytes)}`],
    ['memmap by source', bytesLine(s.memmapBytesBySource)],
    ['memmap freed to', bytesLine(s.memmapBytesFreed)],
    ['vmemmap mappings', `${s.mappings.pmd} PMD, ${s.mappings.pte} PTE runs, ${s.mappings.pmdFallbacks} PMD→PTE fallbacks`],
    ['vmemmap page tables', `${s.pgtablePages} pages allocated after boot (net)`],
    [
      'HVO',
      `${s.hvo.hugepagesOptimized} huge pages optimised (${s.hvo.pagesFreed} vmemmap pages freed), ${s.hvo.hugepagesSkipped} skipped` +
        `${Object.keys(s.hvo.skipReasons).length ? ` (${Object.entries(s.hvo.skipReasons).map(([r, n]) => `${r} ×${n}`).join(', ')})` : ''}` +
        `, ${s.hvo.pagesRestored} pages restored, ${s.hvo.restoreFailures} restore failures`,
    ],
    ['failures', fails.length ? fails.map(([e, n]) => `${e} ×${n}`).join(', ') : 'none'],
    ['kernel warnings', s.warnings],
    ['faults injected', s.faultsInjected],
  ]);
}

/** Stable JSON: byte counts as numbers (they are below 2^53 for any machine memhp models). */
export function summaryJson(s: RunSummary): Record<string, unknown> {
  const n = (m: Record<string, bigint>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
  const { pending: _pending, ...rest } = s;
  return {
    ...rest,
    memoryAddedBytes: Number(s.memoryAddedBytes),
    memoryRemovedBytes: Number(s.memoryRemovedBytes),
    memmapBytesBySource: n(s.memmapBytesBySource),
    memmapBytesFreed: n(s.memmapBytesFreed),
  };
}
