/**
 * Sub-section hotplug (seed 003, apps/docs/kernel/sparse.md#add-section to apps/docs/kernel/sparse.md#online-marking, apps/docs/kernel/zone-device.md#pmem-altmap): sparse_add_section / section_activate /
 * section_deactivate at 2 MiB granularity, reached the way memremap_pages reaches them (arch_add_memory
 * without resources or memory blocks).
 */
import { EventBus } from '@memhp/events';
import { describe, expect, it } from 'vitest';
import { cloneState, pfnToOnlinePage, pfnValid, SECTION_HAS_MEM_MAP, SECTION_IS_EARLY } from '../src/index.js';
import { GiB, MiB, small } from './support/machines.js';
import { lastOpEvents, modelOf, rawAdd, rawRemove, sim } from './support/raw.js';

const PFN = (bytes: bigint) => Number(bytes >> 12n);
const withHistory = () => ({ bus: new EventBus({ historyLimit: 10_000 }) });

describe('sparse_add_section at sub-section granularity', () => {
  it('adds one 2 MiB sub-section of an empty section: one bit, base pages from RAM, the section valid but not early', () => {
    const s = sim(small(4));
    const at = 8n * GiB;
    expect(rawAdd(s, at, 2n * MiB).ok).toBe(true);
    const ms = s.state.sections.get(64)!;
    expect(ms.subsectionMap).toBe(1n);
    expect(ms.flags & SECTION_HAS_MEM_MAP).toBeTruthy();
    expect(ms.flags & SECTION_IS_EARLY).toBe(0);
    // x86: a range smaller than a section's memmap is populated with base pages, never from an altmap (apps/docs/kernel/vmemmap.md#x86-populate rule 1):
    // 512 pfns × 64 B = 32 KiB = 8 base pages in one PTE table
    const pmd = [...s.state.vmemmap.pmds.values()].find((e) => e.kind === 'table');
    expect(pmd && pmd.kind === 'table' ? pmd.ptes : null).toEqual([{ startIdx: 0, endIdx: 8, source: 'buddy', altmapId: null }]);
    // nr_memmap_pages += ceil(512 × 64 / 4096) (apps/docs/kernel/sparse.md#add-section step 5)
    expect(s.state.counters.nrMemmapPages).toBe(8);
  });

  it('rejects a second add of an active sub-section with -EEXIST and changes nothing', () => {
    const s = sim(small(4));
    rawAdd(s, 8n * GiB, 4n * MiB);
    const before = modelOf(s.state);
    const r = rawAdd(s, 8n * GiB + 2n * MiB, 2n * MiB);
    // fill_subsection_map: mask intersects the active map → -EEXIST (apps/docs/kernel/sparse.md#add-section step 2.2, seed 003)
    expect(r).toMatchObject({ ok: false, errno: 'EEXIST' });
    expect(modelOf(s.state)).toEqual(before);
  });

  it('frees a usage it allocated itself when the sub-section map refuses the mask', () => {
    const s = sim(small(4), withHistory());
    const r = rawAdd(s, 12n * GiB, 0n);
    // an empty mask (nr_pages = 0) → -EINVAL; the usage kzalloc'ed for it is freed again (seed 003 section_activate)
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' });
    const types = lastOpEvents(s).map((e) => e.type);
    // root 0 exists since boot: sparse_index_init returns 0 without allocating (seed 003: was -EEXIST before 5.3)
    expect(types).toEqual(['command.begin', 'section.usage_alloc', 'subsection.fill', 'section.usage_free', 'command.end']);
    expect(s.state.sections.has(96)).toBe(false);
  });

  it('rejects a span that is not sub-section aligned with a WARN and -EINVAL (check_pfn_span)', () => {
    const s = sim(small(4));
    const before = modelOf(s.state);
    expect(rawAdd(s, 8n * GiB + 4096n, 2n * MiB)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(modelOf(s.state)).toEqual(before);
    expect(s.state.counters.warnings).toBe(1);
  });

  it('reuses the boot memmap for a sub-section added into an early, partially populated section', () => {
    // boot RAM ends at 4 GiB + 64 MiB: section 32 is early with sub-sections 0–31 (apps/docs/kernel/sparse.md#add-section step 2.3, apps/docs/kernel/zone-device.md#pmem-altmap)
    const cfg = small(4);
    const s = sim({ ...cfg, nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: 4n * GiB + 64n * MiB }] }] }, withHistory());
    expect(s.state.sections.get(32)!.subsectionMap).toBe((1n << 32n) - 1n);
    const vmemmapBefore = cloneState(s.state).vmemmap;
    expect(rawAdd(s, 4n * GiB + 64n * MiB, 64n * MiB).ok).toBe(true);
    expect(s.state.sections.get(32)!.subsectionMap).toBe((1n << 64n) - 1n);
    expect(s.state.vmemmap).toEqual(vmemmapBefore);
    expect(lastOpEvents(s).some((e) => e.type === 'vmemmap.populate')).toBe(false);
    // nothing was populated, so nothing is accounted to nr_memmap_pages
    expect(s.state.counters.nrMemmapPages).toBe(0);
    // RAM and device share section 32 at 2 MiB granularity; both halves have struct pages
    expect(pfnValid(s.state, PFN(4n * GiB))).toBe(true);
    expect(pfnValid(s.state, PFN(4n * GiB + 100n * MiB))).toBe(true);
    // the RAM half is online; the device half is not online memory (its bit is set, but ZONE_DEVICE is never
    // onlined: pfn_to_online_page sees the section online, so only the taint tells them apart — 5.12+)
    expect(pfnToOnlinePage(s.state, PFN(4n * GiB))).toBe(true);
    // removing the device half clears its bits and keeps the boot memmap (section_deactivate case 1, early)
    expect(rawRemove(s, 4n * GiB + 64n * MiB, 64n * MiB).ok).toBe(true);
    expect(s.state.sections.get(32)!.subsectionMap).toBe((1n << 32n) - 1n);
    expect(s.state.vmemmap).toEqual(vmemmapBefore);
  });

  it('lets two device ranges share one hot-added section and frees only the memmap of the one removed', () => {
    const s = sim(small(4));
    const base = 10n * GiB;
    expect(rawAdd(s, base, 64n * MiB).ok).toBe(true);
    expect(rawAdd(s, base + 64n * MiB, 64n * MiB).ok).toBe(true);
    const nr = 80;
    expect(s.state.sections.get(nr)!.subsectionMap).toBe((1n << 64n) - 1n);
    // pfn_valid follows the sub-section bits of a non-early section (apps/docs/kernel/sparse.md#validity)
    expect(rawRemove(s, base, 64n * MiB).ok).toBe(true);
    expect(s.state.sections.get(nr)!.subsectionMap).toBe(((1n << 32n) - 1n) << 32n);
    expect(pfnValid(s.state, PFN(base))).toBe(false);
    expect(pfnValid(s.state, PFN(base + 64n * MiB))).toBe(true);
    // a hot-added section is not online until onlined: pfn_to_online_page is NULL for both halves
    expect(pfnToOnlinePage(s.state, PFN(base + 64n * MiB))).toBe(false);
    // each half's memmap is 32 sub-sections × (512 pfns × 64 B / 4 KiB = 8 pages) = 256 base pages (apps/docs/kernel/sparse.md#section-flags);
    // only the second half's remain mapped
    expect(s.state.counters.nrMemmapPages).toBe(256);
    expect(rawRemove(s, base + 64n * MiB, 64n * MiB).ok).toBe(true);
    expect(s.state.sections.has(nr)).toBe(false);
    expect(s.state.counters.vmemmapBuddyPages).toBe(0);
  });

  it('only WARNs when removing sub-sections that are not active (section already deactivated)', () => {
    const s = sim(small(4), withHistory());
    rawAdd(s, 8n * GiB, 2n * MiB);
    const before = modelOf(s.state);
    expect(rawRemove(s, 8n * GiB + 2n * MiB, 2n * MiB).ok).toBe(true);
    expect(lastOpEvents(s).find((e) => e.type === 'subsection.clear')?.payload).toMatchObject({ result: 'WARN' });
    expect(modelOf(s.state)).toEqual(before);
  });

  it('rolls a failed populate back with section_deactivate and returns -ENOMEM', () => {
    // an order-0 allocation of the 5th vmemmap base page fails (the PTE table page is call #1)
    const s = sim(small(4), { faults: { sites: { order0: { nth: [6] } } } });
    const before = modelOf(s.state);
    expect(rawAdd(s, 8n * GiB, 2n * MiB)).toMatchObject({ ok: false, errno: 'ENOMEM' });
    // usage freed, bits cleared, mapped pages and the PTE table freed; only the root page stays
    const after = modelOf(s.state);
    expect(after.sections).toEqual(before.sections);
    expect(after.vmemmap.pmds.size).toBe(before.vmemmap.pmds.size);
    expect(after.counters.nrMemmapPages).toBe(0);
    expect(after.counters.vmemmapBuddyPages).toBe(0);
  });
});
