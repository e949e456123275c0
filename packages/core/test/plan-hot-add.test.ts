import { describe, expect, it } from 'vitest';
import { planHotAdd } from '../src/index.js';
import { testBackend } from './support/test-backend.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const base = { backend: testBackend, kernel: '6.18' as const, pageSizeBytes: 4096, structPageBytes: 64, features: { pse: true, pdpe1gb: true, hypervisor: true } };

describe('plan hot-add (run on a scratch simulator)', () => {
  it('needs 2 MiB of free memory per 128 MiB block for a RAM-backed memmap, plus page-table pages', () => {
    const p = planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: false, freeBytes: 150n * MiB });
    // 12 GiB in 128 MiB blocks (x86 under a hypervisor with boot RAM ending at 4 GiB, apps/docs/kernel/hotplug.md#memory-blocks) and 128 MiB
    // sections (x86-64 SECTION_SIZE_BITS 27, apps/docs/kernel/constants.md#per-arch)
    expect(p.blocks).toBe(96);
    expect(p.sections).toBe(96);
    expect(p.memmapBytes).toBe(192n * MiB); // apps/docs/kernel/index.md#invariants item 1: 1/64 of 12 GiB
    expect(p.memmapSource).toBe('ram');
    // apps/docs/kernel/vmemmap.md#sources: page-table pages come from free memory too, but none is needed here: the memmap of 4–16 GiB lies at
    // vmemmap offsets 64–256 MiB, under the PMD table boot allocated (vmemmap_pud_populate() allocates one only for
    // an empty PUD entry, mm/sparse-vmemmap.c, 6.1; one PMD table maps 1 GiB of vmemmap)
    expect(p.pageTablePages).toBe(0);
    expect(p.freeBytesNeeded).toBe(192n * MiB);
    expect(p.feasible).toBe(false); // 192 MiB > 150 MiB free
    expect(p.reasons.join()).toMatch(/only 150 MiB is free/);
    expect(planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: false, freeBytes: 200n * MiB }).feasible).toBe(true);
  });

  it('with memmap_on_memory needs only the page-table pages and gains p − v pages per block once online', () => {
    const p = planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: true, freeBytes: 200n * MiB, onlineType: 'online_movable' });
    expect(p.memmapSource).toBe('altmap');
    expect(p.memmapBytes).toBe(192n * MiB); // nr_memmap_pages counts altmap-backed memmap too (apps/docs/kernel/user-space.md#vmstat)
    expect(p.freeBytesNeeded).toBe(0n); // the altmap holds the memmap, and no page-table page is needed (as above)
    expect(p.feasible).toBe(true);
    expect(p.zone).toBe('Movable');
    expect(p.memTotalGainBytes).toBe(96n * 32256n * 4096n); // apps/docs/kernel/memmap-on-memory.md#accounting: +(p − v) per block
  });

  it('reports the kernel refusing a non-block-aligned size', () => {
    const p = planHotAdd({ ...base, sizeBytes: 100n * MiB, memmapOnMemory: false });
    expect(p.feasible).toBe(false);
    expect(p.errno).toBe('EINVAL');
    expect(p.reasons[0]).toMatch(/fails: -EINVAL/);
  });
});
