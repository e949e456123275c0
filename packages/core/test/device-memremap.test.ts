/**
 * ZONE_DEVICE through memremap_pages (mm/memremap.c, 6.1; apps/docs/kernel/zone-device.md#zone-device; seed 002): the pmem namespace of apps/docs/kernel/zone-device.md#pmem-example
 * with its memmap on the device, the checks of apps/docs/kernel/zone-device.md#memremap, sub-section granularity and RAM sharing a section (apps/docs/kernel/sparse.md#add-section,
 * apps/docs/kernel/zone-device.md#pmem-altmap), mhp_params, memory providers as the extension point, and compound-page vmemmap dedup (apps/docs/kernel/zone-device.md#compound-dedup).
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import {
  BUILTIN_PROVIDERS,
  createMemremapHandlers,
  createSimulator,
  deviceState,
  pfnToOnlinePage,
  pgmapCovers,
  pmemNamespaceLayout,
  replayState,
  SECTION_TAINT_ZONE_DEVICE,
  viewMeminfo,
  viewPgmaps,
  type ArchBackend,
  type FaultConfig,
  type KernelVersion,
  type MachineConfig,
  type MemoryProvider,
} from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

function sim(kernel: KernelVersion = '6.18', extra: Partial<MachineConfig> = {}, opts: { faults?: FaultConfig; backend?: ArchBackend; providers?: MemoryProvider[] } = {}) {
  const events: EventEnvelope[] = [];
  const s = createSimulator({
    config: small(4, kernel, '', extra),
    backend: opts.backend ?? testBackend,
    checkInvariants: true,
    autoBoot: false,
    faults: opts.faults ?? {},
    ...(opts.providers ? { commands: [createMemremapHandlers([...BUILTIN_PROVIDERS, ...opts.providers])] } : {}),
  });
  s.bus.on('t', (e) => events.push(e));
  s.boot();
  return { s, events };
}

const replay = (x: ReturnType<typeof sim>) => replayState(x.events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), x.s.header());

describe('the 16 GiB fsdax namespace of apps/docs/kernel/zone-device.md#pmem-example', () => {
  it('lays out the namespace: data offset 258 MiB, altmap reserve 2 and free 66046, 4128256 usable pfns', () => {
    const { s } = sim();
    const l = pmemNamespaceLayout(s.machine, 16n * GiB, 16n * GiB);
    // apps/docs/kernel/zone-device.md#pmem-example: npfns 4 194 302, reserve 268 435 328 B, data offset 270 532 608 B = 258 MiB (66 048 pages)
    expect(l).toMatchObject({ npfnsEstimate: 4194302, memmapReserveBytes: 268435328n, dataOffsetBytes: 258n * MiB, usablePfns: 4128256 });
    expect(l.altmap).toEqual({ basePfn: 4194304, reserve: 2, free: 66046 });
  });

  it('maps 128 sections with 2 MiB memmap leaves from the altmap: alloc 65536, align 510, remaining 0', () => {
    const x = sim();
    const { s } = x;
    const l = pmemNamespaceLayout(s.machine, 16n * GiB, 16n * GiB);
    const m0 = viewMeminfo(s.state);
    const hot0 = s.state.counters.nrMemmapPages;
    const r = s.exec({ kind: 'memremap_pages', id: 'pmem0', node: 0, range: { startBytes: 16n * GiB, sizeBytes: 16n * GiB }, type: 'fsdax', altmapReserveBytes: l.altmapReserveBytes, altmapFreeBytes: l.altmapFreeBytes });
    expect(r.ok).toBe(true);
    const a = [...s.state.altmaps.values()].find((x) => x.owner === 'device')!;
    // apps/docs/kernel/zone-device.md#pmem-example: the first 2 MiB allocation pads 510 pfns (next pfn base + 2 → 512), then 128 × 512
    expect({ alloc: a.alloc, align: a.align, remaining: a.free - a.alloc - a.align }).toEqual({ alloc: 65536, align: 510, remaining: 0 });
    expect(viewPgmaps(s.state)[0]).toMatchObject({ pgprot: 'PAGE_KERNEL_decrypted', altmap: { reserve: 2, free: 66046, alloc: 65536, align: 510, remaining: 0 }, vmemmapPages: { altmap: 65536 }, dedupSavedPages: 0 });
    // apps/docs/kernel/user-space.md#vmstat: nr_memmap_pages counts altmap-backed memmap (+512 per section); apps/docs/kernel/user-space.md#meminfo: MemTotal/MemFree do not move
    expect(s.state.counters.nrMemmapPages - hot0).toBe(65536);
    expect(viewMeminfo(s.state).MemTotal).toBe(m0.MemTotal);
    // not even a page-table page: the boot PMD table already covers 1 GiB of vmemmap (= 64 GiB of RAM, apps/docs/kernel/vmemmap.md#sources)
    expect(viewMeminfo(s.state).MemFree).toBe(m0.MemFree);
    // ZONE_DEVICE: spanned grows by the whole range, nothing present or managed
    expect(s.state.nodes.get(0)?.zones.get('Device')).toMatchObject({ startPfn: 4194304, spannedPages: 4194304, presentPages: 0, managedPages: 0 });
    expect(replay(x)).toEqual(s.state);
  });

  it('gives every altmap page back on memunmap_pages without the "failed to free all reserved pages" WARN', () => {
    const x = sim();
    const { s } = x;
    const l = pmemNamespaceLayout(s.machine, 16n * GiB, 16n * GiB);
    s.exec({ kind: 'memremap_pages', id: 'pmem0', node: 0, range: { startBytes: 16n * GiB, sizeBytes: 16n * GiB }, type: 'fsdax', altmapReserveBytes: l.altmapReserveBytes, altmapFreeBytes: l.altmapFreeBytes });
    const warns = s.state.counters.warnings;
    const hot = s.state.counters.nrMemmapPages;
    expect(s.exec({ kind: 'memunmap_pages', id: 'pmem0' }).ok).toBe(true);
    expect(s.state.counters.warnings).toBe(warns);
    expect(hot - s.state.counters.nrMemmapPages).toBe(65536);
    expect(s.state.altmaps.size).toBe(0);
    expect(deviceState(s.state).pgmaps.size).toBe(0);
    expect(replay(x)).toEqual(s.state);
  });
});

describe('memremap_pages checks (apps/docs/kernel/zone-device.md#memremap)', () => {
  it('refuses a second pgmap over a mapped pfn with -ENOMEM "Conflicting mapping in same section"', () => {
    const { s } = sim();
    s.exec({ kind: 'memremap_pages', id: 'a', node: 0, range: { startBytes: 16n * GiB, sizeBytes: 128n * MiB }, type: 'devdax' });
    expect(s.exec({ kind: 'memremap_pages', id: 'b', node: 0, range: { startBytes: 16n * GiB + 126n * MiB, sizeBytes: 4n * MiB }, type: 'devdax' })).toMatchObject({ ok: false, errno: 'ENOMEM' });
  });

  it('refuses System RAM (-ENXIO "attempted on ram region") and a mixed range', () => {
    const { s } = sim();
    expect(s.exec({ kind: 'memremap_pages', id: 'r', node: 0, range: { startBytes: GiB, sizeBytes: 2n * MiB }, type: 'devdax' })).toMatchObject({ ok: false, errno: 'ENXIO' });
    expect(s.exec({ kind: 'memremap_pages', id: 'm', node: 0, range: { startBytes: 4n * GiB - 2n * MiB, sizeBytes: 4n * MiB }, type: 'devdax' })).toMatchObject({ ok: false, errno: 'ENXIO' });
    expect(deviceState(s.state).pgmaps.size).toBe(0);
  });

  it('refuses the zero pgprot in mhp_params with -EINVAL (a provider that forgets it)', () => {
    const careless: MemoryProvider = { name: 'careless', types: ['coherent'], setUp: () => ({ altmap: null, pgprot: 'none', vmemmapShift: 0, linearMap: true }), construct: () => ({ compoundPages: 1 }) };
    const { s } = sim('6.18', {}, { providers: [careless] });
    expect(s.exec({ kind: 'memremap_pages', id: 'c', node: 0, range: { startBytes: 16n * GiB, sizeBytes: 128n * MiB }, type: 'coherent' })).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(deviceState(s.state).pgmaps.size).toBe(0);
  });

  it('fails with -ENOMEM when the device altmap is exhausted (fault site "altmap"), leaving no pgmap behind', () => {
    const x = sim('6.18', {}, { faults: { sites: { altmap: { nth: [1] } } } });
    const { s } = x;
    const l = pmemNamespaceLayout(s.machine, 16n * GiB, 16n * GiB);
    const r = s.exec({ kind: 'memremap_pages', id: 'p', node: 0, range: { startBytes: 16n * GiB, sizeBytes: 16n * GiB }, type: 'fsdax', altmapReserveBytes: l.altmapReserveBytes, altmapFreeBytes: l.altmapFreeBytes });
    expect(r).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.events.some((e) => e.type === 'fault.inject' && (e.payload as { site: string }).site === 'altmap')).toBe(true);
    expect(x.events.some((e) => e.type === 'vmemmap.alloc_fail' && (e.payload as { source: string }).source === 'altmap')).toBe(true);
    expect(deviceState(s.state).pgmaps.size).toBe(0);
    expect(replay(x)).toEqual(s.state);
  });
});

describe('sub-section granularity and sharing a section with RAM (apps/docs/kernel/sparse.md#add-section, apps/docs/kernel/zone-device.md#pmem-altmap)', () => {
  it('maps a 2 MiB device range with base pages from RAM (x86 ignores the altmap below a section) and taints the section', () => {
    const { s } = sim();
    const sec = (16n * GiB) / (128n * MiB);
    const r = s.exec({ kind: 'memremap_pages', id: 'd', node: 0, range: { startBytes: 16n * GiB + 2n * MiB, sizeBytes: 2n * MiB }, type: 'devdax', altmapReserveBytes: 0n, altmapFreeBytes: 2n * MiB });
    expect(r.ok).toBe(true);
    const ms = s.state.sections.get(Number(sec))!;
    expect(ms.subsectionMap).toBe(0b10n);
    expect(ms.flags & SECTION_TAINT_ZONE_DEVICE).toBe(SECTION_TAINT_ZONE_DEVICE);
    // apps/docs/kernel/zone-device.md#pmem-altmap: "x86 populates a partial section's memmap with base pages from RAM, not from the altmap"
    expect([...s.state.altmaps.values()][0]!.alloc).toBe(0);
  });

  it('shares the last section of boot RAM with pmem: the early memmap is reused and pfn_to_online_page tells them apart', () => {
    // boot RAM [0, 1 GiB + 64 MiB): section 8 is early with sub-sections 0–31 present
    const { s } = sim('6.1', { nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: GiB + 64n * MiB }] }] });
    const hot = s.state.counters.nrMemmapPages;
    const r = s.exec({ kind: 'memremap_pages', id: 'shared', node: 0, range: { startBytes: GiB + 64n * MiB, sizeBytes: 64n * MiB }, type: 'fsdax' });
    expect(r.ok).toBe(true);
    const ms = s.state.sections.get(8)!;
    expect(ms.subsectionMap).toBe((1n << 64n) - 1n);
    // apps/docs/kernel/sparse.md#add-section step 2.3: an early section's partial add reuses the boot memmap — nothing populated or counted
    expect(s.state.counters.nrMemmapPages).toBe(hot);
    expect(ms.flags & SECTION_TAINT_ZONE_DEVICE).toBe(SECTION_TAINT_ZONE_DEVICE);
    const ramPfn = (Number(GiB) + 32 * 2 ** 20) / 4096;
    const devPfn = (Number(GiB) + 96 * 2 ** 20) / 4096;
    // apps/docs/kernel/sparse.md#validity pfn_to_online_page: the tainted section takes the slow path through the pgmap index
    expect(pfnToOnlinePage(s.state, ramPfn, pgmapCovers(s.state))).toBe(true);
    expect(pfnToOnlinePage(s.state, devPfn, pgmapCovers(s.state))).toBe(false);
  });
});

describe('device-private memory', () => {
  it('uses add_pages without a linear mapping and removes with __remove_pages', () => {
    const x = sim();
    const { s } = x;
    expect(s.exec({ kind: 'memremap_pages', id: 'gpu', node: 0, range: { startBytes: 64n * GiB, sizeBytes: 256n * MiB }, type: 'private' }).ok).toBe(true);
    expect(x.events.some((e) => e.type === 'linear_map.add')).toBe(false);
    expect(s.exec({ kind: 'memunmap_pages', id: 'gpu' }).ok).toBe(true);
    expect(x.events.some((e) => e.type === 'linear_map.remove')).toBe(false);
    expect(replay(x)).toEqual(s.state);
  });
});

describe('a third-party provider plugs in through set-up and construct hooks (seed 002)', () => {
  it('maps CXL memory with its memmap on the device without any change to core', () => {
    const constructed: number[] = [];
    const cxl: MemoryProvider = {
      name: 'cxl-type3',
      types: ['coherent'],
      // set-up: the device keeps one page of metadata, then room for its own memmap (1/64 of the range)
      setUp: (m, req) => ({ altmap: { basePfn: Number(req.startBytes >> 12n), reserve: 1, free: Number(req.sizeBytes / 64n / 4096n) + 511 }, pgprot: 'PAGE_KERNEL', vmemmapShift: 0, linearMap: true }),
      construct: (_pg, start, n) => {
        constructed.push(start, n);
        return { compoundPages: 1 };
      },
    };
    const x = sim('6.18', {}, { providers: [cxl] });
    const { s } = x;
    expect(s.exec({ kind: 'memremap_pages', id: 'cxl0', node: 0, range: { startBytes: 32n * GiB, sizeBytes: GiB }, type: 'coherent' }).ok).toBe(true);
    const pg = deviceState(s.state).pgmaps.get('cxl0')!;
    expect(pg.provider).toBe('cxl-type3');
    const a = s.state.altmaps.get(pg.altmapId!)!;
    // 8 sections × 512 memmap pages from the device, the first padded from pfn base + 1 to base + 512
    expect({ alloc: a.alloc, align: a.align }).toEqual({ alloc: 4096, align: 511 });
    // construct starts at vmem_altmap_offset = reserve + free
    expect(constructed).toEqual([a.basePfn + 1 + 4607, 262144 - 4608]);
  });
});

describe('compound-page vmemmap dedup for device-DAX (apps/docs/kernel/zone-device.md#compound-dedup)', () => {
  const devdax = (kernel: KernelVersion, shift: number, backend?: ArchBackend) => {
    const x = sim(kernel, {}, backend ? { backend } : {});
    const before = x.s.state.counters.vmemmapBuddyPages;
    const r = x.s.exec({ kind: 'memremap_pages', id: 'dax0', node: 0, range: { startBytes: 16n * GiB, sizeBytes: GiB }, type: 'devdax', vmemmapShift: shift });
    expect(r.ok).toBe(true);
    return { x, used: x.s.state.counters.vmemmapBuddyPages - before };
  };

  it('6.1, 2 MiB compound pages: 2 vmemmap pages per compound page instead of 8 (+ one PTE table per section)', () => {
    const { x, used } = devdax('6.1', 9);
    // 1 GiB = 512 compound pages × 2 real vmemmap pages, + 8 PTE tables (one per 2 MiB of vmemmap)
    expect(used).toBe(512 * 2 + 8);
    expect(deviceState(x.s.state).pgmaps.get('dax0')?.dedup).toBe(true);
    // the saving: 6 of 8 vmemmap pages per compound page share page 1 (apps/docs/kernel/zone-device.md#compound-dedup "2 MiB → 2 instead of 8")
    expect(viewPgmaps(x.s.state)[0]).toMatchObject({ vmemmapPages: { buddy: 1024, reuse: 3072 }, dedupSavedPages: 3072 });
    expect(replay(x)).toEqual(x.s.state);
  });

  it('6.1, 1 GiB compound pages: 2 vmemmap pages for the whole 1 GiB; later sections reuse the first one\'s tail page', () => {
    const { x, used } = devdax('6.1', 18);
    // apps/docs/kernel/zone-device.md#compound-dedup: 1 GiB → 2 instead of 4096 (saves 4094), + 8 PTE tables
    expect(used).toBe(2 + 8);
    expect(replay(x)).toEqual(x.s.state);
  });

  it('5.18 has no dedup: 8 sections × 2 MiB PMD leaves', () => {
    const { used } = devdax('5.18', 9);
    expect(used).toBe(8 * 512);
  });

  it('6.1 needs the arch opt-in (6.1.y backport of the 6.4 fix)', () => {
    const noOptIn: ArchBackend = { ...testBackend, capabilities: (c) => ({ ...testBackend.capabilities(c), daxVmemmapOptimize: false }) };
    const { used } = devdax('6.1', 9, noOptIn);
    expect(used).toBe(8 * 512);
  });
});
