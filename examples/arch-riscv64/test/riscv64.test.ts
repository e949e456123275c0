import { describe, expect, it } from 'vitest';
import { checkBackend } from '@memhp/arch-testkit';
import backend from '../src/index.js';

describe('memhp-arch-riscv64', () => {
  it('reports every kernel before 6.11 as not supported (riscv memory hotplug since 6.11, DOMAIN.md §12)', () => {
    const r = checkBackend(backend, { kernels: ['6.8', '6.11'] });
    expect(r.unsupported.map((u) => u.config)).toEqual(['4K S=64 v6.8']);
    expect(r.ok).toBe(true);
  });

  it('offsets the vmemmap so that phys_ram_base maps to VMEMMAP_START (sv57: 0xff1c000000000000)', () => {
    const c = backend.constants({ pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.18', features: {} });
    // 0x80000000 >> 12 = 0x80000 pfns × 64 B = 32 MiB below VMEMMAP_START
    expect(c.vmemmapBase).toBe(0xff1c000000000000n - (32n << 20n));
  });
});
