/**
 * add_memory / add_memory_driver_managed / remove_memory (apps/docs/kernel/hotplug.md#entry-points to apps/docs/kernel/hotplug.md#alignment, apps/docs/kernel/hotplug.md#removal, apps/docs/kernel/hotplug.md#errors, apps/docs/kernel/memmap-on-memory.md#memmap-on-memory; 6.1
 * mm/memory_hotplug.c add_memory_resource, register_memory_resource, try_remove_memory), per kernel version.
 */
import { EventBus } from '@memhp/events';
import { describe, expect, it } from 'vitest';
import type { KernelVersion, MhpFlag, Simulator } from '../src/index.js';
import { GiB, MiB, small } from './support/machines.js';
import { lastOpEvents, modelOf, sim } from './support/raw.js';

const add = (s: Simulator, startBytes: bigint, sizeBytes: bigint, flags: MhpFlag[] = [], node = 0) =>
  s.exec({ kind: 'add_memory', node, range: { startBytes, sizeBytes }, flags });
const remove = (s: Simulator, startBytes: bigint, sizeBytes: bigint) => s.exec({ kind: 'remove_memory', range: { startBytes, sizeBytes } });
const mom = (kernel: KernelVersion, param = 'memory_hotplug.memmap_on_memory=1') => sim(small(4, kernel, param));

describe('add_memory errnos (apps/docs/kernel/hotplug.md#errors)', () => {
  it('rejects a range that is not block-aligned with -EINVAL', () => {
    const s = sim(small(4));
    expect(add(s, 8n * GiB + 64n * MiB, 128n * MiB)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(add(s, 8n * GiB, 64n * MiB)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('rejects a zero size with -E2BIG: mhp_range_allowed needs start < end before the alignment check runs', () => {
    // 6.1 register_memory_resource → mhp_range_allowed(start, 0) is false → -E2BIG (kernel source; the kernel reference (apps/docs/kernel/)
    // apps/docs/kernel/hotplug.md#errors lists size 0 under -EINVAL, which only check_hotplug_memory_range would give)
    expect(add(sim(small(4)), 8n * GiB, 0n)).toMatchObject({ ok: false, errno: 'E2BIG' });
  });

  it('rejects a range overlapping busy System RAM with -EEXIST and releases nothing it did not take', () => {
    const s = sim(small(4));
    const before = modelOf(s.state);
    expect(add(s, 0n, 128n * MiB)).toMatchObject({ ok: false, errno: 'EEXIST' });
    expect(modelOf(s.state)).toEqual(before);
  });

  it('rejects a range beyond MAX_PHYSMEM_BITS (2^46 with 4-level paging) with -E2BIG', () => {
    expect(add(sim(small(4)), 1n << 46n, 128n * MiB)).toMatchObject({ ok: false, errno: 'E2BIG' });
  });

  it('rejects a node that is not possible with -EINVAL (WARN) and releases the resource', () => {
    const s = sim(small(4));
    const before = modelOf(s.state);
    expect(add(s, 8n * GiB, 128n * MiB, [], 7)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(modelOf(s.state)).toEqual(before);
  });

  it('rejects a malformed driver-managed resource name with -EINVAL', () => {
    const s = sim(small(4));
    const r = s.exec({ kind: 'add_memory_driver_managed', node: 0, range: { startBytes: 8n * GiB, sizeBytes: 128n * MiB }, resourceName: 'kmem', flags: [] });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('rejects MHP_NID_IS_MGID with an unknown memory group with -EINVAL', () => {
    expect(add(sim(small(4)), 8n * GiB, 128n * MiB, ['nid_is_mgid'], 3)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });
});

describe('a successful add_memory of one block (memmap in RAM)', () => {
  const s = sim(small(4));
  const free0 = s.state.counters.nrFreePages;
  const r = add(s, 8n * GiB, 128n * MiB);

  it('returns 0 and creates one offline block with no vmemmap pages', () => {
    expect(r.ok).toBe(true);
    expect(s.state.blocks.get(64)).toMatchObject({ state: 'offline', zone: null, nrVmemmapPages: 0, altmapId: null, early: false, nid: 0 });
  });

  it('marks the section present and valid, but neither online nor early', () => {
    // __section_mark_present + sparse_init_one_section, never IS_EARLY / IS_ONLINE (apps/docs/kernel/sparse.md#add-section step 4)
    expect(s.state.sections.get(64)!.flags).toBe(1 | 2);
  });

  it('takes the 2 MiB memmap from the page allocator as one PMD leaf, in the PMD table boot already made', () => {
    // apps/docs/kernel/user-space.md#meminfo: MemFree −2048 kB; apps/docs/kernel/vmemmap.md#sources: one PMD table per 1 GiB of vmemmap = per 64 GiB of RAM at 64 B
    // per 4 KiB, so RAM at 8 GiB reuses boot's table
    expect(free0 - s.state.counters.nrFreePages).toBe(512);
    expect(s.state.counters.nrMemmapPages).toBe(512);
    const leaf = s.state.vmemmap.pmds.get(Number((0xffffea0000000000n + BigInt(8 * 262144) * 64n) >> 21n));
    expect(leaf).toMatchObject({ kind: 'leaf', source: 'buddy' });
  });

  it('claims a busy "System RAM" iomem resource', () => {
    expect(s.state.resources.at(-1)).toMatchObject({ startBytes: 8n * GiB, endBytes: 8n * GiB + 128n * MiB - 1n, name: 'System RAM' });
  });

  it('refuses to add the same range again with -EEXIST', () => {
    expect(add(s, 8n * GiB, 128n * MiB)).toMatchObject({ ok: false, errno: 'EEXIST' });
  });

  it('removes it again to exactly the state after boot', () => {
    const fresh = sim(small(4));
    expect(remove(s, 8n * GiB, 128n * MiB).ok).toBe(true);
    expect(modelOf(s.state)).toEqual(modelOf(fresh.state));
  });
});

describe('memmap_on_memory across versions (apps/docs/kernel/hotplug.md#add-steps step 7, apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/memmap-on-memory.md#accounting)', () => {
  it('6.1: self-hosts a one-block add: altmap alloc 512, free = the whole block, memmap pages counted', () => {
    const s = mom('6.1');
    expect(add(s, 8n * GiB, 128n * MiB, ['memmap_on_memory']).ok).toBe(true);
    const b = s.state.blocks.get(64)!;
    const a = s.state.altmaps.get(b.altmapId!)!;
    // 5.13–6.5: free = all pfns of the range; nr_vmemmap_pages = altmap.alloc = 512 (apps/docs/kernel/vmemmap.md#altmap, apps/docs/kernel/memmap-on-memory.md#accounting)
    expect(a).toMatchObject({ basePfn: 8 * 262144, free: 32768, alloc: 512, align: 0 });
    expect(b.nrVmemmapPages).toBe(512);
    const leaf = s.state.vmemmap.pmds.get(Number((0xffffea0000000000n + BigInt(8 * 262144) * 64n) >> 21n));
    expect(leaf).toMatchObject({ kind: 'leaf', source: 'altmap', altmapId: a.id });
    expect(s.state.counters.nrMemmapPages).toBe(512);
    // nothing from RAM: the leaf comes from the altmap and boot's PMD table covers it (apps/docs/kernel/memmap-on-memory.md#accounting MemFree ≈0)
    expect(s.state.counters.vmemmapBuddyPages).toBe(0);
  });

  it('6.1: refuses a two-block add with the flag with -EINVAL (size ≠ block) and leaves nothing behind', () => {
    const s = mom('6.1');
    const before = modelOf(s.state);
    expect(add(s, 8n * GiB, 256n * MiB, ['memmap_on_memory'])).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(modelOf(s.state)).toEqual(before);
  });

  it('6.1: refuses the flag with -EINVAL when the parameter is off', () => {
    expect(add(mom('6.1', ''), 8n * GiB, 128n * MiB, ['memmap_on_memory'])).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('6.6: falls back silently to a RAM memmap for a two-block add', () => {
    const s = mom('6.6');
    expect(add(s, 8n * GiB, 256n * MiB, ['memmap_on_memory']).ok).toBe(true);
    expect(s.state.altmaps.size).toBe(0);
    expect(s.state.blocks.get(65)?.nrVmemmapPages).toBe(0);
  });

  it('6.6: a one-block add gets an altmap whose free is exactly the block memmap (512)', () => {
    const s = mom('6.6');
    expect(add(s, 8n * GiB, 128n * MiB, ['memmap_on_memory']).ok).toBe(true);
    const b = s.state.blocks.get(64)!;
    // 6.6+: altmap.free = memory_block_memmap_on_memory_pages() = 128 MiB / 4 KiB × 64 B / 4 KiB = 512
    // (mm/memory_hotplug.c add_memory_resource, 6.6; apps/docs/kernel/memmap-on-memory.md#accounting)
    expect(s.state.altmaps.get(b.altmapId!)).toMatchObject({ free: 512, alloc: 512 });
    expect(b.nrVmemmapPages).toBe(512);
  });

  it('6.8: splits a two-block add into per-block altmaps, each self-hosting 512 pages', () => {
    const s = mom('6.8');
    expect(add(s, 8n * GiB, 256n * MiB, ['memmap_on_memory']).ok).toBe(true);
    const a64 = s.state.altmaps.get(s.state.blocks.get(64)!.altmapId!)!;
    const a65 = s.state.altmaps.get(s.state.blocks.get(65)!.altmapId!)!;
    // create_altmaps_and_memory_blocks (mm/memory_hotplug.c, 6.8): one altmap per block, at the block's first pfn
    // (8 GiB / 4 KiB = 8 × 262144; the next block 32768 pfns on), each 512 pages (apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/memmap-on-memory.md#accounting)
    expect([a64.basePfn, a64.free, a64.alloc]).toEqual([8 * 262144, 512, 512]);
    expect([a65.basePfn, a65.free, a65.alloc]).toEqual([8 * 262144 + 32768, 512, 512]);
  });
});

describe('remove_memory (apps/docs/kernel/hotplug.md#removal)', () => {
  it('refuses to remove online (boot) memory with -EBUSY', () => {
    expect(remove(sim(small(4)), 0n, 128n * MiB)).toMatchObject({ ok: false, errno: 'EBUSY' });
  });

  it('6.1: refuses to remove two self-hosting blocks at once with -EINVAL (wrong granularity), one by one works', () => {
    const s = mom('6.1');
    add(s, 8n * GiB, 128n * MiB, ['memmap_on_memory']);
    add(s, 8n * GiB + 128n * MiB, 128n * MiB, ['memmap_on_memory']);
    expect(remove(s, 8n * GiB, 256n * MiB)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(remove(s, 8n * GiB, 128n * MiB).ok).toBe(true);
    expect(remove(s, 8n * GiB + 128n * MiB, 128n * MiB).ok).toBe(true);
    expect(s.state.altmaps.size).toBe(0);
    expect(modelOf(s.state)).toEqual(modelOf(mom('6.1').state));
  });

  it('6.8: removes a multi-block self-hosted range block by block, returning every altmap to alloc 0', () => {
    const s = mom('6.8');
    add(s, 8n * GiB, 512n * MiB, ['memmap_on_memory']);
    expect(remove(s, 8n * GiB, 512n * MiB).ok).toBe(true);
    expect(modelOf(s.state)).toEqual(modelOf(mom('6.8').state));
    expect(s.state.counters.warnings).toBe(0);
  });

  it('6.8: refuses a range mixing self-hosted and RAM-memmap blocks with -EINVAL (WARN)', () => {
    const s = mom('6.8');
    add(s, 8n * GiB, 128n * MiB, ['memmap_on_memory']);
    add(s, 8n * GiB + 128n * MiB, 128n * MiB);
    expect(remove(s, 8n * GiB, 256n * MiB)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });
});

describe('partial failure of __add_pages (apps/docs/kernel/hotplug.md#add-steps notes)', () => {
  it('does not roll back the sections added before the failure, flags the leak, and a re-add then fails with -EEXIST', () => {
    // the 2nd section of a 2-block add cannot get its memmap: the PMD and every base page fail
    const s = sim(small(4), {
      bus: new EventBus({ historyLimit: 1000 }),
      faults: { sites: { pmd: { nth: [2] }, order0: { nth: [1] } } },
    });
    const r = add(s, 8n * GiB, 256n * MiB);
    expect(r).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(lastOpEvents(s).find((e) => e.type === 'hotplug.leak')?.payload).toEqual({ startPfn: 8 * 262144, nrPages: 32768, sections: [64] });
    // section 64 stays present with its memmap, but no memory block and no resource refer to it
    expect(s.state.sections.get(64)?.flags).toBe(3);
    expect(s.state.blocks.has(64)).toBe(false);
    expect(s.state.resources.some((x) => x.startBytes === 8n * GiB)).toBe(false);
    expect(s.state.counters.leakedSections).toBe(1);
    expect(add(s, 8n * GiB, 256n * MiB)).toMatchObject({ ok: false, errno: 'EEXIST' });
  });

  it('6.8: per-block adds remove the blocks created before a failing block, altmaps included', () => {
    const s = sim(small(4, '6.8', 'memory_hotplug.memmap_on_memory=1'), { faults: { sites: { 'slab:altmap': { nth: [3] } } } });
    const before = modelOf(s.state);
    expect(add(s, 8n * GiB, 512n * MiB, ['memmap_on_memory'])).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(modelOf(s.state)).toEqual(before);
  });
});
