/**
 * The comparison rules on a recorded real boot (Debian 12's 6.1.192 under QEMU 7.2, node 0 = 2 GiB, node 1
 * memoryless with a CPU; test/fixtures/debian-6.1-boot.*) against the model booted on the same memory map.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSimulator, type MachineConfig } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { applyKnown, compareMessages, compareReading, earlyNodeRanges, parseReading } from '../src/index.js';

const fx = (n: string) => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');
const real = parseReading(fx('debian-6.1-boot.snap'));
const ranges = earlyNodeRanges(fx('debian-6.1-boot.dmesg').split('\n'));

function model(cmdline = '') {
  const config: MachineConfig = {
    arch: 'x86_64',
    pageSizeBytes: 4096,
    structPageBytes: 64,
    kernel: '6.1',
    cmdline,
    nodes: [
      { id: 0, memory: ranges.get(0)! },
      { id: 1, memory: [] },
    ],
  };
  return createSimulator({ config, backend: x86Backend }).state;
}

describe('compareReading on a real 6.1 boot', () => {
  const rows = compareReading(real, model(), { pageBytes: 4096 });
  const row = (f: string) => rows.find((r) => r.field === f)!;

  it('agrees on the block set, every block attribute, zone spans and present pages, node states and parameters', () => {
    expect(row('memory.blocks')).toMatchObject({ kernel: '0-15', memhp: '0-15', verdict: 'equal' });
    for (const f of ['memory0.valid_zones', 'memory15.node', 'memory7.phys_index', 'memory.block_size_bytes', 'memory.auto_online_blocks'])
      expect(row(f).verdict).toBe('equal');
    // DMA: pfn 1–4095 spanned, 3998 present (RAM 0x1000–0x9efff); DMA32 from 4096 to 0x7ffe0 (the fixture's dmesg).
    expect(row('zoneinfo.node0/DMA.present')).toMatchObject({ kernel: '3998', verdict: 'equal' });
    expect(row('zoneinfo.node0/DMA32.spanned')).toMatchObject({ kernel: String(0x7ffe0 - 4096), verdict: 'equal' });
    expect(row('node.has_memory')).toMatchObject({ kernel: '0', memhp: '0', verdict: 'equal' });
    expect(row('memory_hotplug.memmap_on_memory')).toMatchObject({ kernel: 'N', memhp: 'N', verdict: 'equal' });
  });

  it('reports what the kernel reserves at boot as a difference unless it is declared known', () => {
    // The kernel's managed DMA32 pages are fewer than present: the kernel image, memblock allocations … (core boot/reservations.ts).
    expect(row('zoneinfo.node0/DMA32.managed').verdict).toBe('differs');
    const known = compareReading(real, model(), { pageBytes: 4096, known: [{ field: /managed|MemTotal/, why: 'boot reservations' }] });
    expect(known.find((r) => r.field === 'zoneinfo.node0/DMA32.managed')).toMatchObject({ verdict: 'known', why: 'boot reservations' });
    expect(known.filter((r) => r.verdict === 'differs')).toEqual([]);
  });

  it('catches a parameter the model got wrong', () => {
    const r = compareReading(real, model('memory_hotplug.memmap_on_memory=1'), { pageBytes: 4096 });
    expect(r.find((x) => x.field === 'memory_hotplug.memmap_on_memory')).toMatchObject({ kernel: 'N', memhp: 'Y', verdict: 'differs' });
  });

  it('judges free memory by the accounted change, within 256 pages (1024 kB)', () => {
    const s = model();
    const prev = { real, model: { freePages: s.counters.nrFreePages, zoneFree: new Map() } };
    const bump = (kb: number) => parseReading(fx('debian-6.1-boot.snap').replace(/^MemFree:\s+(\d+) kB$/m, (_, v: string) => `MemFree:        ${Number(v) + kb} kB`));
    const f = (r: ReturnType<typeof compareReading>) => r.find((x) => x.field === 'accounted free (change, kB)')!;
    expect(f(compareReading(bump(0), s, { pageBytes: 4096, previous: prev })).verdict).toBe('equal');
    expect(f(compareReading(bump(1024), s, { pageBytes: 4096, previous: prev })).verdict).toBe('within-tolerance');
    expect(f(compareReading(bump(1028), s, { pageBytes: 4096, previous: prev })).verdict).toBe('differs');
  });
});

describe('known differences', () => {
  it('explain only differing rows of the listed steps whose field matches', () => {
    const rows = [
      { field: 'errno', kernel: 'EBUSY', memhp: 'ok', difference: '≠', verdict: 'differs' as const },
      { field: 'memory32.state', kernel: 'online', memhp: 'online', difference: '', verdict: 'equal' as const },
      { field: 'memory33.state', kernel: 'online', memhp: 'offline', difference: '≠', verdict: 'differs' as const },
    ];
    const known = [{ steps: [3], field: /^(errno|memory32\.state)$/, why: 'unmovable allocations' }];
    expect(applyKnown(rows, 3, known).map((r) => r.verdict)).toEqual(['known', 'equal', 'differs']);
    expect(applyKnown(rows, 4, known).map((r) => r.verdict)).toEqual(['differs', 'equal', 'differs']);
  });

  it('keep the boot offset of MemTotal known only while a step leaves it unchanged', () => {
    const offsets = new Map([['meminfo.MemTotal', { value: real.meminfo.MemTotal! - 2063856, why: 'boot reservations' }]]);
    const r = compareReading(real, model(), { pageBytes: 4096, offsets });
    expect(r.find((x) => x.field === 'meminfo.MemTotal')).toMatchObject({ verdict: 'known' });
    const off = new Map([['meminfo.MemTotal', { value: 1, why: 'boot reservations' }]]);
    expect(compareReading(real, model(), { pageBytes: 4096, offsets: off }).find((x) => x.field === 'meminfo.MemTotal')).toMatchObject({ verdict: 'differs' });
  });
});

describe('compareMessages', () => {
  it('reports an allocation failure as a difference the model must predict, not as a kernel finding', () => {
    const rows = compareMessages(['[ 21.9] init: page allocation failure: order:0, mode:0x210cc0(GFP_KERNEL|__GFP_NORETRY|__GFP_THISNODE)', '[ 21.9] Call Trace:'], []);
    expect(rows.map((r) => [r.field, r.verdict])).toEqual([['dmesg (allocation failure)', 'differs']]);
  });

  it('finds memhp\'s messages in dmesg by their text and flags an unpredicted BUG as a kernel finding', () => {
    const lines = ['[    1.000000] Built 2 zonelists, mobility grouping on.  Total pages: 1', '[    2.5] BUG: Bad page state in process sh  pfn:12345'];
    const rows = compareMessages(lines, ['Built 2 zonelists, mobility grouping on.  Total pages: 1', 'never printed']);
    expect(rows.map((r) => r.verdict)).toEqual(['equal', 'differs', 'finding']);
  });
});
