import { describe, expect, it } from 'vitest';
import { planHotAdd } from '../src/index.js';
import { testBackend } from './support/test-backend.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const base = { backend: testBackend, kernel: '6.18' as const, pageSizeBytes: 4096, structPageBytes: 64, features: { pse: true, pdpe1gb: true, hypervisor: true } };

describe('plan hot-add (run on a scratch simulator)', () => {
  it('needs 2 MiB of free memory per 128 MiB block for a RAM-backed memmap, plus page-table pages', () => {
    const p = planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: false, freeBytes: 150n * MiB });
    expect(p.blocks).toBe(96);
    expect(p.sections).toBe(96);
    expect(p.memmapBytes).toBe(192n * MiB); // apps/docs/kernel/index.md#invariants item 1: 1/64 of 12 GiB
    expect(p.memmapSource).toBe('ram');
    // apps/docs/kernel/vmemmap.md#sources: page-table pages come from free memory too; 12 GiB of memmap fits one PMD table page per GiB of vmemmap
    expect(p.freeBytesNeeded).toBe(192n * MiB + BigInt(p.pageTablePages) * 4096n);
    expect(p.feasible).toBe(false); // 192 MiB > 150 MiB free
    expect(p.reasons.join()).toMatch(/only 150 MiB is free/);
    expect(planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: false, freeBytes: 200n * MiB }).feasible).toBe(true);
  });

  it('with memmap_on_memory needs only the page-table pages and gains p − v pages per block once online', () => {
    const p = planHotAdd({ ...base, sizeBytes: 12n * GiB, memmapOnMemory: true, freeBytes: 200n * MiB, onlineType: 'online_movable' });
    expect(p.memmapSource).toBe('altmap');
    expect(p.memmapBytes).toBe(192n * MiB); // nr_memmap_pages counts altmap-backed memmap too (apps/docs/kernel/user-space.md#vmstat)
    expect(p.freeBytesNeeded).toBe(BigInt(p.pageTablePages) * 4096n);
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
