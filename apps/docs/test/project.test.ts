import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TableMap } from '@memhp/core';
import { decodeFrame, encodeFrame, type Frame } from '../viewer/protocol.js';
import { SampleSeries, blockKind, cap, countBlocks, counters, drawPmds, drawSections, drawSectionsUpTo, popcount, SECTION_HAS_MEM_MAP, SECTION_IS_EARLY, SECTION_IS_ONLINE, SECTION_MARKED_PRESENT, type StateLike } from '../viewer/project.js';

/** x86-64 4K geometry (apps/docs/kernel/constants.md#per-arch): 64 sub-sections per 128 MiB section, PMD_SHIFT 21, vmemmap base 0xffffea0000000000 (apps/docs/kernel/vmemmap.md#layout). */
const geometry = { pageBytes: 4096, pagesPerSection: 32768, subsectionsPerSection: 64, sectionsPerBlock: 1, pmdShift: 21, vmemmapBase: 0xffffea0000000000n };

function state(over: Partial<StateLike> = {}): StateLike {
  return {
    machine: { geometry },
    sections: new Map(),
    blocks: new Map(),
    vmemmap: { pmds: new Map() },
    counters: { nrMemmapPages: 0, nrMemmapBootPages: 0, nrFreePages: 0, totalramPages: 0 },
    ...over,
  };
}

describe('viewer projection', () => {
  it('counts the sub-sections of a section map bit by bit', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 63 })), (bits) => {
        const map = bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
        expect(popcount(map)).toBe(new Set(bits).size);
      }),
    );
  });

  it('shows MemTotal and MemFree in kB from totalram and free pages when core has no views', () => {
    // MemTotal = totalram_pages × 4 kB, MemFree = nr_free_pages × 4 kB (apps/docs/kernel/user-space.md#meminfo, apps/docs/kernel/user-space.md#vmstat)
    const s = state({ counters: { nrMemmapPages: 512, nrMemmapBootPages: 98304, nrFreePages: 1000, totalramPages: 32768 } });
    expect(counters(s, {})).toEqual({ MemTotal: 131072, MemFree: 4000, nr_memmap_pages: 512, nr_memmap_boot_pages: 98304 });
  });

  it("prefers core's meminfo and vmstat views over the raw counters", () => {
    const s = state({ counters: { nrMemmapPages: 1, nrMemmapBootPages: 2, nrFreePages: 3, totalramPages: 4 } });
    const c = counters(s, { meminfo: () => ({ MemTotal: '24684084 kB', MemFree: 100 }), vmstat: () => ({ nr_memmap_pages: 7, nr_memmap_boot_pages: 98304 }) });
    expect(c.MemTotal).toBe(24684084);
    expect(c.MemFree).toBe(100);
    expect(c.nr_memmap_pages).toBe(7);
  });

  it('colours a section by the state and zone of the block that contains it', () => {
    const full = (1n << 64n) - 1n;
    const s = state({
      sections: new Map([
        [32, { flags: SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE | SECTION_IS_EARLY, subsectionMap: full }],
        [64, { flags: SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP, subsectionMap: full }],
        [130, { flags: SECTION_HAS_MEM_MAP, subsectionMap: 0xffff000000n }],
      ]),
      blocks: new Map([
        [32, { id: 32, state: 'online', zone: 'Normal', nrVmemmapPages: 0 }],
        [64, { id: 64, state: 'offline', zone: null, nrVmemmapPages: 512 }],
      ]),
    });
    const d = drawSections(s);
    expect(d.map((x) => [x.nr, x.blockState, x.zone, x.subsectionsSet, x.early, x.device])).toEqual([
      [32, 'online', 'Normal', 64, true, false],
      [64, 'offline', null, 64, false, false],
      // a memmap without a memory block is ZONE_DEVICE memory (memremap_pages creates no blocks, apps/docs/kernel/zone-device.md#memremap)
      [130, null, 'Device', 16, false, true],
    ]);
  });

  it('counts PMD leaves, PTE tables and PTEs by source', () => {
    const base = Number(geometry.vmemmapBase >> 21n);
    const s = state({
      vmemmap: {
        pmds: new Map<number, StateLike['vmemmap']['pmds'] extends ReadonlyMap<number, infer V> ? V : never>([
          [base + 32, { kind: 'leaf', source: 'boot' }],
          [base + 64, { kind: 'leaf', source: 'altmap' }],
          [base + 65, { kind: 'table', ptes: [{ startIdx: 0, endIdx: 300, source: 'buddy' }, { startIdx: 300, endIdx: 512, source: 'altmap' }] }],
        ]),
      },
    });
    const { pmds, counts } = drawPmds(s);
    expect(pmds.map((p) => [p.idx, p.kind, p.source, p.ptes])).toEqual([
      [32, 'leaf', 'boot', 0],
      [64, 'leaf', 'altmap', 0],
      [65, 'table', 'buddy', 512],
    ]);
    expect(counts).toEqual({ leaf: 2, table: 1, ptes: 512, bySource: { boot: 1, altmap: 1, buddy: 1 } });
  });

  it("projects core's table maps (read slot by slot) as it projects any map, and counts every block by its kind", () => {
    type Pmd = StateLike['vmemmap']['pmds'] extends ReadonlyMap<number, infer V> ? V : never;
    const pmdBase = Number(geometry.vmemmapBase >> 21n);
    const zones = [null, 'Normal', 'Movable', 'DMA32'] as const;
    const blockStates = ['online', 'offline', 'going-offline'] as const;
    const sources = ['boot', 'buddy', 'altmap', 'reuse'] as const;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 3000 }), { maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(2), fc.nat(3), fc.nat(3), fc.nat(511)), { minLength: 300, maxLength: 300 }),
        fc.integer({ min: 1, max: 400 }),
        (keys, looks, max) => {
          const sections = new Map<number, StateLike['sections'] extends ReadonlyMap<number, infer V> ? V : never>();
          const blocks = new Map<number, StateLike['blocks'] extends ReadonlyMap<number, infer V> ? V : never>();
          const pmds = new Map<number, Pmd>();
          keys.forEach((k, i) => {
            const [st, z, src, n] = looks[i]!;
            sections.set(k, { flags: n % 2 ? SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP : 0, subsectionMap: BigInt(n % 4) });
            if (n % 3) blocks.set(k, { id: k, state: blockStates[st]!, zone: zones[z]!, nrVmemmapPages: 0 });
            pmds.set(pmdBase + k, n % 5 ? { kind: 'leaf', source: sources[src]! } : { kind: 'table', ptes: [{ startIdx: 0, endIdx: n + 1, source: sources[src]! }] });
          });
          // core's TableMap fills its slots in any order and reads them in key order
          const table = <V>(m: Map<number, V>, base: number): TableMap<V> => {
            const t = new TableMap<V>([], base);
            for (const [k, v] of m) t.put(k, v);
            return t;
          };
          const plain = state({ sections, blocks, vmemmap: { pmds } });
          const tabled = state({ sections: table(sections, 0), blocks: table(blocks, 0), vmemmap: { pmds: table(pmds, pmdBase) } });
          expect(drawSectionsUpTo(tabled, max)).toEqual(drawSectionsUpTo(plain, max));
          expect(drawPmds(tabled, max)).toEqual(drawPmds(plain, max));
          expect(countBlocks(tabled)).toEqual(countBlocks(plain));
          // every block once, under its own kind
          const naive: Record<string, number> = {};
          for (const b of blocks.values()) naive[blockKind(b)] = (naive[blockKind(b)] ?? 0) + 1;
          expect(countBlocks(plain)).toEqual({ total: blocks.size, byKind: naive });
          // PMDs by source: a leaf by its own, a table by the source of most of its PTEs
          const bySource: Record<string, number> = {};
          for (const e of pmds.values()) {
            const src = e.kind === 'leaf' ? e.source : e.ptes[0]!.source;
            bySource[src] = (bySource[src] ?? 0) + 1;
          }
          expect(drawPmds(plain).counts.bySource).toEqual(bySource);
          expect(drawSectionsUpTo(plain, max).items.map((x) => x.nr)).toEqual([...sections].filter(([, v]) => v.flags || v.subsectionMap).map(([k]) => k).sort((a, b) => a - b).slice(0, max));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('caps what one frame draws and says how much it left out', () => {
    expect(cap([1, 2, 3, 4], 3)).toEqual({ items: [1, 2, 3], dropped: 1 });
    expect(cap([1], 3)).toEqual({ items: [1], dropped: 0 });
  });

  it('keeps a bounded, ordered counter series over a run of any length, including its last event', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20000 }), fc.integer({ min: 4, max: 64 }), (n, max) => {
        const s = new SampleSeries(max);
        for (let seq = 0; seq <= n; seq++) if (s.wants(seq)) s.push(seq, { v: seq });
        s.push(n, { v: n });
        const a = s.toArray();
        expect(a.length).toBeLessThanOrEqual(max + 1);
        for (let i = 1; i < a.length; i++) expect(a[i]!.seq).toBeGreaterThan(a[i - 1]!.seq);
        expect(a[0]!.seq).toBe(0);
        expect(a[a.length - 1]!.seq).toBe(n);
        for (const x of a) expect(x.values.v).toBe(x.seq);
      }),
      { numRuns: 60 },
    );
  });

  it('sends a frame to the page as columns that decode to an equal frame (through a structured clone that moves them)', () => {
    const str = fc.string({ maxLength: 6 });
    const section = fc.record({
      nr: fc.double(),
      flags: fc.integer(),
      subsectionsSet: fc.nat(),
      subsectionMap: str,
      block: fc.integer(),
      blockState: fc.constantFrom('online' as const, 'offline' as const, 'going-offline' as const, null),
      zone: fc.option(str),
      early: fc.boolean(),
      device: fc.boolean(),
    }, { noNullPrototype: true });
    const pmd = fc.record({ idx: fc.integer(), kind: fc.constantFrom('leaf' as const, 'table' as const), source: str, ptes: fc.nat() }, { noNullPrototype: true });
    fc.assert(
      fc.property(fc.array(section, { maxLength: 40 }), fc.array(pmd, { maxLength: 40 }), (sections, pmds) => {
        const f: Frame = {
          seq: 7,
          lastSeq: 9,
          event: { seq: 7, type: 'section.mark_online', op: 3, summary: '{}' },
          sections,
          sectionsNotDrawn: 1,
          pmdsNotDrawn: 2,
          subsectionsPerSection: 64,
          blocks: { total: 3, byKind: { offline: 3 } },
          pmds,
          pmdCounts: { leaf: 1, table: 0, ptes: 0, bySource: { altmap: 1 } },
          counters: { MemTotal: 1 },
          hugetlb: { optimized: 0, skipped: 0, restored: 0 },
        };
        const { wire, transfer } = encodeFrame(f);
        const moved = structuredClone(wire, { transfer });
        expect(transfer.every((b) => b.byteLength === 0), 'the columns are moved, not copied').toBe(true);
        expect(decodeFrame(moved)).toStrictEqual(f);
        // against the frame posted before: rows equal to its are not sent, and the page's own stand for them
        for (const prev of [
          { ...f, seq: 6 },
          { ...f, sections: sections.slice(1), pmds: pmds.map((p) => ({ ...p })) },
          { ...f, sections: sections.map((s) => ({ ...s })), pmds: pmds.map((p) => ({ ...p, ptes: p.ptes + 1 })) },
        ]) {
          const e = encodeFrame(f, prev);
          const sentSections = prev.sections.length !== sections.length || sections.some((s) => Number.isNaN(s.nr));
          const sentPmds = prev.pmds.some((p, i) => p.ptes !== pmds[i]!.ptes);
          expect(e.wire.sections === null, 'sections sent').toBe(!sentSections);
          expect(e.wire.pmds === null, 'PMD entries sent').toBe(!sentPmds);
          const got = decodeFrame(structuredClone(e.wire, { transfer: e.transfer }), structuredClone(prev));
          expect(got).toStrictEqual(f);
        }
      }),
      { numRuns: 100 },
    );
  });
});
