/**
 * Two memremap_pages over the same or overlapping ranges, as pagemap_range() handles them (mm/memremap.c,
 * Linux 6.1, pagemap_range(); apps/docs/kernel/zone-device.md#memremap step 1), and the kernel's names for the pgmap types
 * (include/linux/memremap.h, 6.1, enum memory_type; apps/docs/kernel/zone-device.md#pgmap-types).
 *
 * pagemap_range() checks, in this order, for each range:
 *   a. get_dev_pagemap(PHYS_PFN(range->start)) finds a pgmap → WARN(1, "Conflicting mapping in same section"),
 *      return -ENOMEM;
 *   b. get_dev_pagemap(PHYS_PFN(range->end)) (the last byte's pfn) finds one → the same WARN, -ENOMEM;
 *   c. region_intersects(… IORESOURCE_SYSTEM_RAM …) is not REGION_DISJOINT → WARN_ONCE "attempted on %s
 *      region", -ENXIO;
 *   d. only then xa_store_range() indexes the range, and arch_add_memory()/add_pages() add its sections; a range
 *      whose first and last pfns are free but which contains a mapped pgmap passes a and b, and fails in
 *      sparse_add_section() → section_activate() → fill_subsection_map() with -EEXIST (no WARN there).
 * `WARN(1, …)` warns on every call, so each refused call is one more kernel warning.
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import { createSimulator, deviceState, parsePgmapType, PGMAP_TYPES, replayState, type KernelVersion, type MachineConfig } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

function sim(kernel: KernelVersion = '6.1', extra: Partial<MachineConfig> = {}) {
  const events: EventEnvelope[] = [];
  const s = createSimulator({ config: small(4, kernel, '', extra), backend: testBackend, checkInvariants: true, autoBoot: false, faults: {} });
  s.bus.on('t', (e) => events.push(e));
  s.boot();
  const warnings = () => events.filter((e) => e.type === 'kernel.warn').map((e) => (e.payload as { message: string }).message);
  return { s, events, warnings };
}

// 16 GiB is past the 4 GiB of boot RAM of small(4): device memory, no System RAM.
const base = 16n * GiB;
const map = (s: ReturnType<typeof sim>['s'], startBytes: bigint, sizeBytes: bigint, type: string, id?: string) =>
  s.exec({ kind: 'memremap_pages', ...(id !== undefined ? { id } : {}), node: 0, range: { startBytes, sizeBytes }, type: type as never });

describe("pagemap_range()'s conflict checks (mm/memremap.c 6.1)", () => {
  it('refuses a second memremap_pages of the same range with -ENOMEM and one WARN "Conflicting mapping in same section", not -EBUSY', () => {
    const x = sim();
    expect(map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_GENERIC')).toMatchObject({ ok: true });
    expect(x.warnings()).toEqual([]);
    // no id given either time: memhp's default names must not make this a naming clash
    expect(map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_GENERIC')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.warnings()).toEqual(['Conflicting mapping in same section']);
    expect(deviceState(x.s.state).pgmaps.size).toBe(1);
    // WARN(1, …), not WARN_ONCE: a third attempt warns again
    expect(map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_FS_DAX')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.warnings()).toHaveLength(2);
    expect(x.s.state.counters.warnings).toBe(2);
  });

  it('checks the conflict before its own id: the same explicit id over the same range is -ENOMEM with the WARN', () => {
    const x = sim();
    expect(map(x.s, base, 128n * MiB, 'devdax', 'p')).toMatchObject({ ok: true });
    expect(map(x.s, base, 128n * MiB, 'devdax', 'p')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.warnings()).toEqual(['Conflicting mapping in same section']);
  });

  it('refuses a range whose first pfn is mapped (check a) and one whose last pfn is mapped (check b), each with the WARN', () => {
    const x = sim();
    expect(map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'old')).toMatchObject({ ok: true });
    // starts inside the old range, ends past it
    expect(map(x.s, base + 64n * MiB, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'tail')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    // starts before the old range, its last byte (range->end) inside it
    expect(map(x.s, base - 64n * MiB, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'head')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.warnings()).toEqual(['Conflicting mapping in same section', 'Conflicting mapping in same section']);
    // range->end is inclusive: a range ending right before the old one starts does not conflict
    expect(map(x.s, base - 128n * MiB, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'before')).toMatchObject({ ok: true });
    expect(x.warnings()).toHaveLength(2);
  });

  it('checks the conflict before System RAM: a mapped range that also covers RAM is -ENOMEM, not -ENXIO', () => {
    const x = sim();
    // 4 GiB - 2 MiB … 4 GiB + 2 MiB: half boot RAM; its last pfn lies in a pgmap mapped at 4 GiB
    expect(map(x.s, 4n * GiB, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'dev')).toMatchObject({ ok: true });
    expect(map(x.s, 4n * GiB - 2n * MiB, 4n * MiB, 'MEMORY_DEVICE_GENERIC', 'mixed')).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(x.warnings()).toEqual(['Conflicting mapping in same section']);
  });

  it('lets a range that contains a pgmap but not at its ends through checks a-c; sparse_add_section then fails with -EEXIST, no WARN', () => {
    const x = sim();
    expect(map(x.s, base + 128n * MiB, 128n * MiB, 'MEMORY_DEVICE_GENERIC', 'inner')).toMatchObject({ ok: true });
    const r = map(x.s, base, 512n * MiB, 'MEMORY_DEVICE_GENERIC', 'outer');
    expect(r).toMatchObject({ ok: false, errno: 'EEXIST' });
    expect(x.warnings()).toEqual([]);
    expect([...deviceState(x.s.state).pgmaps.keys()]).toEqual(['inner']);
  });

  it('replays a log with a refused second memremap_pages to the live state, warnings counted', () => {
    const x = sim();
    map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_GENERIC');
    map(x.s, base, 128n * MiB, 'MEMORY_DEVICE_GENERIC');
    const replayed = replayState(x.events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), x.s.header());
    expect(replayed.counters.warnings).toBe(1);
    expect([...deviceState(replayed).pgmaps.keys()]).toEqual([...deviceState(x.s.state).pgmaps.keys()]);
  });
});

describe('pgmap types by their enum memory_type names (include/linux/memremap.h 6.1)', () => {
  it('knows the five types of 6.1 in the enum order (values 1…5)', () => {
    expect(PGMAP_TYPES).toEqual(['MEMORY_DEVICE_PRIVATE', 'MEMORY_DEVICE_COHERENT', 'MEMORY_DEVICE_FS_DAX', 'MEMORY_DEVICE_GENERIC', 'MEMORY_DEVICE_PCI_P2PDMA']);
  });

  it('accepts the kernel names and the short aliases, case-insensitively; "generic" is device-dax', () => {
    expect(parsePgmapType('MEMORY_DEVICE_GENERIC')).toBe('MEMORY_DEVICE_GENERIC');
    expect(parsePgmapType('memory_device_generic')).toBe('MEMORY_DEVICE_GENERIC');
    expect(parsePgmapType('generic')).toBe('MEMORY_DEVICE_GENERIC');
    expect(parsePgmapType('devdax')).toBe('MEMORY_DEVICE_GENERIC');
    expect(parsePgmapType('fsdax')).toBe('MEMORY_DEVICE_FS_DAX');
    expect(parsePgmapType('FS_DAX')).toBe('MEMORY_DEVICE_FS_DAX');
    expect(parsePgmapType('private')).toBe('MEMORY_DEVICE_PRIVATE');
    expect(parsePgmapType('coherent')).toBe('MEMORY_DEVICE_COHERENT');
    expect(parsePgmapType('p2pdma')).toBe('MEMORY_DEVICE_PCI_P2PDMA');
    expect(parsePgmapType('MEMORY_DEVICE_PUBLIC')).toBeUndefined(); // removed before 5.10 (no longer in the enum)
    expect(parsePgmapType('host')).toBeUndefined();
  });

  it('maps "generic" like "devdax" and records the kernel name in its events', () => {
    const a = sim();
    const b = sim();
    expect(map(a.s, base, 128n * MiB, 'generic', 'd')).toMatchObject({ ok: true });
    expect(map(b.s, base, 128n * MiB, 'devdax', 'd')).toMatchObject({ ok: true });
    // command.begin echoes the command as the caller wrote it; every event the kernel decided is the same
    const serial = (x: ReturnType<typeof sim>) => x.events.filter((e) => e.type !== 'command.begin').map((e) => serializeEvent(e));
    expect(serial(a)).toEqual(serial(b));
    const reg = a.events.find((e) => e.type === 'device.pgmap_register')!;
    expect(reg.v).toBe(2);
    expect((reg.payload as { type: string }).type).toBe('MEMORY_DEVICE_GENERIC');
    expect(deviceState(a.s.state).pgmaps.get('d')!.type).toBe('MEMORY_DEVICE_GENERIC');
  });

  it('replays an old log whose device events (v1) name types the short way, upcast to the kernel names', () => {
    const x = sim();
    map(x.s, base, 128n * MiB, 'fsdax', 'old');
    // the same events as memhp 0.1 wrote them: v1, type "fsdax"
    const v1 = x.events.map((e) =>
      e.type === 'device.setup' || e.type === 'device.pgmap_register' ? { ...e, v: 1, payload: { ...(e.payload as object), type: 'fsdax' } } : e,
    );
    const lines = v1.map((e) => serializeEvent(e));
    expect(lines.some((l) => l.includes('"type":"fsdax"'))).toBe(true);
    const cat = x.s.catalogue;
    const up = v1.map((e) => cat.upcast(e));
    const replayed = replayState(up, x.s.header());
    expect(deviceState(replayed).pgmaps.get('old')!.type).toBe('MEMORY_DEVICE_FS_DAX');
  });
});
