import { describe, expect, it } from 'vitest';
import { bootKitMachine, checkBackend, memmapMapping } from '@memhp/arch-testkit';
import backend from '../src/index.js';

describe('memhp-arch-riscv64', () => {
  it('reports every kernel before 6.11 as not supported (riscv memory hotplug since 6.11, apps/docs/kernel/timeline.md#timeline)', () => {
    const r = checkBackend(backend, { kernels: ['6.8', '6.11'] });
    expect(r.unsupported.map((u) => u.config)).toEqual(['4K S=64 v6.8']);
    expect(r.ok).toBe(true);
  });

  it('offsets the vmemmap so that phys_ram_base maps to VMEMMAP_START (sv57: 0xff1c000000000000)', () => {
    const c = backend.constants({ pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.18', features: {} });
    // 0x80000000 >> 12 = 0x80000 pfns × 64 B = 32 MiB below VMEMMAP_START
    expect(c.vmemmapBase).toBe(0xff1c000000000000n - (32n << 20n));
  });

  it('frees a PMD leaf whole on removal, taking the memmap of a neighbour section with it when 56-byte struct pages share the leaf', () => {
    // remove_pmd_mapping frees a vmemmap leaf even when the range covers part of it (README §4; verify per release).
    // S = 56: a section's memmap is 32768 × 56 B = 1.75 MiB, so sections 0 and 1 share the PMD at [0, 2) MiB.
    const k = bootKitMachine(backend, { pageSizeBytes: 4096, structPageBytes: 56, kernel: '6.18', features: {} });
    const add = (at: bigint) => k.exec({ kind: 'add_memory', node: 0, range: { startBytes: at, sizeBytes: k.sectionBytes }, flags: [] });
    expect(add(k.baseBytes).result.ok).toBe(true);
    expect(add(k.baseBytes + k.sectionBytes).result.ok).toBe(true);
    k.exec({ kind: 'remove_memory', range: { startBytes: k.baseBytes + k.sectionBytes, sizeBytes: k.sectionBytes } });
    // all 1.75 MiB of section 0's memmap = 448 pages of 4 KiB lost their mapping
    expect(memmapMapping(k, k.baseBytes, k.sectionBytes).unmapped).toBe(448);
    // the kit judges the removed range only; core's invariants, on request, name the neighbour
    const strict = checkBackend(backend, { kernels: ['6.18'], structPageSizes: [56], checkInvariants: true });
    expect(strict.results.filter((r) => !r.ok).flatMap((r) => r.problems).join('\n')).toMatch(/memmap not (fully )?mapped/);
  });
});

