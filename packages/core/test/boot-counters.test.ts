import { describe, expect, it } from 'vitest';
import { createSimulator, SECTION_IS_EARLY, SECTION_IS_ONLINE, SECTION_MARKED_PRESENT, SECTION_HAS_MEM_MAP, pfnValid, pfnToOnlinePage } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { hostVm24G, small } from './support/machines.js';

const boot = (cfg = hostVm24G()) => createSimulator({ config: cfg, backend: testBackend, checkInvariants: true });

describe('boot of the 24 GiB x86 VM of apps/docs/kernel/readings.md#readings', () => {
  const sim = boot();
  const s = sim.state;

  it('decides 128 MiB memory blocks because boot RAM ends below 64 GiB', () => {
    // apps/docs/kernel/hotplug.md#memory-blocks rule 2 and apps/docs/kernel/readings.md#readings: block_size_bytes 8000000
    expect(s.machine.geometry.blockSizeBytes).toBe(128n << 20n);
  });

  it('creates 192 online memory blocks: 0–23 and 32–199, none inside the 3–4 GiB hole', () => {
    // apps/docs/kernel/readings.md#readings: memory0…memory23 and memory32…memory199
    expect(s.blocks.size).toBe(192);
    expect([...s.blocks.keys()].filter((id) => id >= 24 && id < 32)).toEqual([]);
    expect(s.blocks.get(199)?.state).toBe('online');
    expect(s.blocks.has(200)).toBe(false);
  });

  it('gives block 0 no zone (DMA and DMA32 intersect it), blocks 1–23 DMA32, 32–199 Normal', () => {
    // apps/docs/kernel/readings.md#readings valid_zones: memory0 none; memory1–23 DMA32; memory32–199 Normal
    expect(s.blocks.get(0)?.zone).toBeNull();
    expect(s.blocks.get(1)?.zone).toBe('DMA32');
    expect(s.blocks.get(23)?.zone).toBe('DMA32');
    expect(s.blocks.get(32)?.zone).toBe('Normal');
    expect(s.blocks.get(199)?.zone).toBe('Normal');
  });

  it('counts nr_memmap_boot_pages 98304 = 192 sections × 512 pages', () => {
    // apps/docs/kernel/readings.md#readings [host] reading
    expect(s.counters.nrMemmapBootPages).toBe(98304);
    expect(s.counters.nrMemmapPages).toBe(0);
  });

  it('sizes the zones: DMA 3998, DMA32 782336, Normal 5505024 present pages', () => {
    // apps/docs/kernel/readings.md#readings zoneinfo present; DMA spans pfn 1–4095; DMA32 spans up to 4 GiB including the 3–4 GiB hole
    // (zone_spanned_pages_in_node clamps the zone to the node span, holes count as spanned, not present)
    const z = s.nodes.get(0)!.zones;
    expect(z.get('DMA')).toMatchObject({ startPfn: 1, spannedPages: 4095, presentPages: 3998 });
    expect(z.get('DMA32')).toMatchObject({ startPfn: 4096, spannedPages: 0x100000 - 4096, presentPages: 782336 });
    expect(z.get('Normal')).toMatchObject({ startPfn: 0x100000, spannedPages: 0x640000 - 0x100000, presentPages: 5505024 });
  });

  it('marks every section early, present, online and valid, with the boot memmap in 2 MiB leaves', () => {
    // apps/docs/kernel/sparse.md#section-flags (boot sets IS_ONLINE with PRESENT), apps/docs/kernel/vmemmap.md#boot-memmap (one 2 MiB leaf per present section)
    const ms = s.sections.get(5)!;
    expect(ms.flags & (SECTION_IS_EARLY | SECTION_IS_ONLINE | SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP)).toBe(15);
    expect(s.sections.size).toBe(192);
    const leaves = [...s.vmemmap.pmds.values()].filter((e) => e.kind === 'leaf' && e.source === 'boot');
    expect(leaves.length).toBe(192);
  });

  it('sets every sub-section bit of the first section: its holes (pfn 0, 0x9f–0xff) lie inside sub-section 0, which also holds memory', () => {
    // subsection_map_init sets the bits of the 2 MiB sub-sections memblock ranges touch (apps/docs/kernel/sparse.md#boot step 3):
    // sub-section 0 (pfn 0–0x1ff) holds RAM at 0x1–0x9e and 0x100–0x1ff, so no bit is left clear
    expect(s.sections.get(0)!.subsectionMap).toBe((1n << 64n) - 1n);
    expect(s.sections.get(23)!.subsectionMap).toBe((1n << 64n) - 1n);
  });

  it('answers pfn_valid for holes of early sections but pfn_to_online_page only for set sub-sections', () => {
    // apps/docs/kernel/sparse.md#validity: early sections are pfn_valid everywhere
    expect(pfnValid(s, 0)).toBe(true);
    expect(pfnValid(s, 0x9f)).toBe(true);
    expect(pfnValid(s, 0xc0000)).toBe(false); // 3 GiB: the hole, no section
    expect(pfnToOnlinePage(s, 0x100)).toBe(true);
    expect(pfnToOnlinePage(s, 0xc0000)).toBe(false);
  });

  it('lists the boot RAM ranges as busy System RAM in iomem', () => {
    expect(s.resources.map((r) => [r.startBytes, r.endBytes, r.name])).toEqual([
      [0x1000n, 0x9fbffn, 'System RAM'],
      [0x100000n, 0xbfffffffn, 'System RAM'],
      [0x100000000n, 0x63fffffffn, 'System RAM'],
    ]);
  });
});

describe('boot memory and page tables', () => {
  it('reserves the boot memmap and its page tables outside managed pages', () => {
    const sim = boot(small(4));
    const s = sim.state;
    // 32 sections × 512 pages of memmap (apps/docs/kernel/vmemmap.md#boot-memmap); page tables: 1 PUD table + 1 PMD table, since 4 GiB of RAM
    // has 64 MiB of vmemmap, inside one PMD table (1 GiB of vmemmap) under one PUD table (512 GiB); the PGD level is
    // the kernel's own (vmemmap_p4d_populate / vmemmap_pud_populate, mm/sparse-vmemmap.c, 6.1)
    expect(s.counters.nrMemmapBootPages).toBe(32 * 512);
    expect(s.vmemmap.tables.pmd.size).toBe(1);
    expect(s.vmemmap.tables.pud.size).toBe(1);
    expect(s.counters.bootReservedPages).toBe(32 * 512 + 2);
    let present = 0;
    let managed = 0;
    for (const z of s.nodes.get(0)!.zones.values()) {
      present += z.presentPages;
      managed += z.managedPages;
    }
    expect(present).toBe(4 * 262144); // 4 GiB / 4 KiB
    expect(managed).toBe(present - s.counters.bootReservedPages);
    expect(s.counters.totalramPages).toBe(managed);
  });

  it('leaves a memoryless node offline without a pgdat', () => {
    const s = boot(small(1)).state;
    expect(s.nodes.get(1)?.online ?? false).toBe(false);
    expect(s.nodes.get(0)?.online).toBe(true);
  });
});
