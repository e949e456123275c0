/**
 * The state's `sections`, `blocks`, `altmaps` and the vmemmap's `pmds` and `tables` are TableMaps
 * (model/tables.ts): read-only Maps over the lookup tables evolve writes. They must answer like the Map they
 * replaced (by SameValueZero keys, also keys far from their base), iterate in key order, tell states apart under
 * toEqual (replay-equals-live rests on it), and survive cloneState, the viewer's snapshot.
 */
import type { EventEnvelope } from '@memhp/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, evolve, kmemBlocks, kmemSections, TableMap, viewMemoryBlocks, viewMeminfo, type MachineState } from '../src/index.js';
import { GiB, MiB, small } from './support/machines.js';
import { sim } from './support/raw.js';

const opArb = fc.oneof(
  fc.record({ put: fc.constant(true), k: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ put: fc.constant(false), k: fc.integer({ min: 0, max: 3000 }) }),
  // a few keys far up: the table turns sparse and iteration takes the for-in path
  fc.record({ put: fc.boolean(), k: fc.integer({ min: 1 << 24, max: (1 << 24) + 5 }) }),
);

/** The same puts and removes on a TableMap and on the Map it must answer like. */
function applyBoth<V>(m: TableMap<V>, ref: Map<number, V>, ops: ReadonlyArray<{ put: boolean; k: number }>, value: (op: { k: number }, i: number) => V): void {
  ops.forEach((op, i) => {
    if (op.put) {
      const v = value(op, i);
      m.put(op.k, v);
      ref.set(op.k, v);
    } else {
      m.remove(op.k);
      ref.delete(op.k);
    }
  });
}

describe('TableMap', () => {
  it('answers get, has, size and iteration like a Map of the same entries, in key order', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const table: Array<{ k: number } | undefined> = [];
        const m = new TableMap(table);
        const ref = new Map<number, { k: number }>();
        applyBoth(m, ref, ops, (op) => ({ k: op.k }));
        expect(m.size).toBe(ref.size);
        const want = [...ref.entries()].sort((a, b) => a[0] - b[0]);
        expect([...m]).toEqual(want);
        expect([...m.keys()]).toEqual(want.map(([k]) => k));
        expect([...m.values()]).toEqual(want.map(([, v]) => v));
        const seen: number[] = [];
        m.forEach((v, k, self) => {
          expect(v).toBe(ref.get(k));
          expect(self).toBe(m);
          seen.push(k);
        });
        expect(seen).toEqual(want.map(([k]) => k));
        for (const op of ops) {
          expect(m.get(op.k)).toBe(ref.get(op.k));
          expect(m.has(op.k)).toBe(ref.has(op.k));
        }
        // emptied again, the table is as short as before (clearSlot drops trailing holes)
        for (const k of ref.keys()) m.remove(k);
        expect(m.size).toBe(0);
        expect(table.length).toBe(0);
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  it('keeps keys around a large base like a Map: in the table from the base up, spilt below it and past the window', () => {
    // a vmemmap PMD table: base = vmemmap_base >> PMD_SHIFT on x86-64 with 5-level paging (__VMEMMAP_BASE_L5,
    // 0xffd4000000000000: arch/x86/include/asm/pgtable_64_types.h)
    const base = Number(0xffd4000000000000n >> 21n);
    const key = fc.oneof(
      fc.integer({ min: 0, max: 3000 }).map((d) => base + d),
      fc.integer({ min: 1, max: 50 }).map((d) => base - d),
      fc.integer({ min: 0, max: 5 }).map((d) => base + 2 ** 31 + d),
      fc.integer({ min: 0, max: 5 }).map((d) => base + 2 ** 24 + d),
    );
    fc.assert(
      fc.property(fc.array(fc.record({ put: fc.boolean(), k: key }), { maxLength: 200 }), (ops) => {
        const table: Array<number | undefined> = [];
        const m = new TableMap(table, base);
        const ref = new Map<number, number>();
        applyBoth(m, ref, ops, (_, i) => i);
        expect(m.size).toBe(ref.size);
        expect([...m]).toEqual([...ref.entries()].sort((a, b) => a[0] - b[0]));
        for (const op of ops) expect(m.get(op.k)).toBe(ref.get(op.k));
        // only keys the window cannot hold are spilt; the table holds no more slots than its highest key needs
        for (const k of m.spill?.keys() ?? []) expect(k < base || k >= base + 2 ** 31).toBe(true);
        const inWindow = [...ref.keys()].filter((k) => k >= base && k < base + 2 ** 31);
        expect(table.length).toBe(inWindow.length === 0 ? 0 : Math.max(...inWindow) - base + 1);
        for (const k of ref.keys()) m.remove(k);
        expect(m.size).toBe(0);
        expect(table.length).toBe(0);
        expect(m.spill).toBeNull();
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('has no entry under a key a Map would not match: a string, a fraction, a negative number', () => {
    const m = new TableMap<string>([]);
    m.put(3, 'x');
    expect(m.get(3)).toBe('x');
    expect(m.get('3' as unknown as number)).toBeUndefined();
    expect(m.get(3.5)).toBeUndefined();
    expect(m.get(-1)).toBeUndefined();
    expect(m.has('3' as unknown as number)).toBe(false);
    expect(Object.prototype.toString.call(m)).toBe('[object TableMap]');
  });

  it('tells maps apart under toEqual (what replay-equals-live compares)', () => {
    const a = new TableMap<{ n: number }>([]);
    const b = new TableMap<{ n: number }>([]);
    a.put(1, { n: 1 });
    b.put(1, { n: 1 });
    expect(a).toEqual(b);
    b.put(2, { n: 2 });
    expect(a).not.toEqual(b);
    b.remove(2);
    b.put(1, { n: 9 });
    expect(a).not.toEqual(b);
  });
});

describe('cloneState', () => {
  it('copies a state deeply: equal to the original, views equal, and evolving the copy leaves the original alone', () => {
    const s = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
    const events: EventEnvelope[] = [];
    s.bus.on('recorder', (e) => events.push(e));
    expect(s.exec({ kind: 'add_memory', node: 0, range: { startBytes: 4n * GiB, sizeBytes: 256n * MiB }, flags: ['memmap_on_memory'] }).ok).toBe(true);
    const before = cloneState(s.state);
    expect(before).toEqual(s.state);
    expect(before.sections).toBeInstanceOf(TableMap);
    expect(before.sections.table).toBe(before.sectionTable);
    expect(before.blocks.table).toBe(before.blockTable);
    for (const m of [before.altmaps, before.vmemmap.pmds, ...Object.values(before.vmemmap.tables)]) expect(m).toBeInstanceOf(TableMap);
    expect([...before.vmemmap.pmds]).toEqual([...s.state.vmemmap.pmds]);
    expect([...before.altmaps.values()]).toEqual([...s.state.altmaps.values()]);
    expect(kmemSections(before)).toEqual(kmemSections(s.state));
    expect(viewMemoryBlocks(before)).toEqual(viewMemoryBlocks(s.state));
    expect(kmemBlocks(before)).toEqual(kmemBlocks(s.state));

    const n = events.length;
    expect(s.exec({ kind: 'block_state', block: 32, state: 'online_movable' }).ok).toBe(true);
    // replaying the online onto the copy reaches the live state; the copy's tables were its own all along
    const copy: MachineState = cloneState(before);
    for (const e of events.slice(n)) evolve(copy, e);
    expect(copy).toEqual(s.state);
    expect(viewMeminfo(copy)).toEqual(viewMeminfo(s.state));
    expect(before.blocks.get(32)!.state).toBe('offline');
    expect(s.state.blocks.get(32)!.state).toBe('online');
  });
});
