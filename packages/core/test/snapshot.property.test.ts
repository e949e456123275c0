/**
 * packState / unpackState (model/snapshot.ts): a packed state unpacks to a state equal to the one packed — equal as
 * structuredClone's copy is (the oracle cloneState was checked against), its TableMaps still TableMaps over the
 * state's tables, its resourceIndex sharing the objects of its resources — however often it is unpacked, and
 * whatever the live state does afterwards. unpackStateInto makes the same state out of the entries of a state given
 * up: equal to unpackState's, its entries reused, and sharing nothing with the packed state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packedBytesOf, packState, TableMap, tableMapsOf, unpackState, unpackStateInto, type MachineState, type PackedState } from '../src/index.js';
import { GiB, small } from './support/machines.js';
import { sim } from './support/raw.js';
import { BLOCK, opArb, oracle, toCommand } from './support/block-ops.js';

/**
 * Operations on blocks on both sides of the packer's chunk boundaries (1024 table slots: section 1023 | 1024, 2047 |
 * 2048 on this 128 MiB-section machine), so a state packed after another shares some chunks and packs others again.
 */
const wideOpArb = fc.array(
  fc.record({
    block: fc.constantFrom(16, 17, 1022, 1023, 1024, 1025, 2047, 2048),
    kind: fc.constantFrom('add', 'add_mom', 'online_movable', 'online_kernel', 'offline', 'remove'),
  }),
  { minLength: 1, maxLength: 8 },
);

function expectWellFormed(c: MachineState): void {
  for (const [, m] of tableMapsOf(c)) expect(m).toBeInstanceOf(TableMap);
  expect(c.sections.table).toBe(c.sectionTable);
  expect(c.blocks.table).toBe(c.blockTable);
  for (const v of c.resourceIndex) for (const r of v === undefined ? [] : Array.isArray(v) ? v : [v]) expect(c.resources).toContain(r);
}

describe('packState / unpackState', () => {
  it('unpacks any state (several times) to one equal to it, and the packed state does not follow the live one', () => {
    fc.assert(
      fc.property(opArb, opArb, (before, after) => {
        const s = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
        for (const op of before) s.exec(toCommand(op));
        const state = s.state as MachineState;
        const want = oracle(state);
        const p = packState(state);
        const a = unpackState(p);
        expect(a).toStrictEqual(want);
        expectWellFormed(a);
        // the live state moves on, and the first unpacked copy is written: the packed one stays as it was
        for (const op of after) s.exec(toCommand(op));
        a.sectionTable.length = 0;
        a.counters.warnings += 1;
        const b = unpackState(p);
        expect(b).toStrictEqual(want);
        expectWellFormed(b);
        expect(p.bytes).toBeGreaterThan(0);
      }),
      { numRuns: 40 },
    );
  });

  it('unpacks into a given-up state one equal to unpackState\'s, reusing its entries and sharing nothing with the packed state', () => {
    fc.assert(
      fc.property(opArb, opArb, fc.boolean(), (ops, otherOps, intoUnpacked) => {
        const s = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
        for (const op of ops) s.exec(toCommand(op));
        const want = oracle(s.state as MachineState);
        const p = packState(s.state as MachineState);
        // the state given up: a live one evolve made, or one unpacked before (as the viewer's cursor is either)
        const o = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
        for (const op of otherOps) o.exec(toCommand(op));
        const into = intoUnpacked ? unpackState(packState(o.state as MachineState)) : (o.state as MachineState);
        const oldSections = into.sectionTable.slice();
        const oldBlocks = into.blockTable.slice();
        const c = unpackStateInto(p, into);
        expect(c).toStrictEqual(want);
        expectWellFormed(c);
        // entries at a slot both states hold are the given-up state's objects, written
        c.sectionTable.forEach((e, nr) => {
          if (e !== undefined && oldSections[nr] !== undefined) expect(e).toBe(oldSections[nr]);
        });
        c.blockTable.forEach((e, id) => {
          if (e !== undefined && oldBlocks[id] !== undefined) expect(e).toBe(oldBlocks[id]);
        });
        // writing every entry of the result leaves the packed state as it was
        for (const [, m] of tableMapsOf(c)) for (const [, e] of m) for (const k of Object.keys(e as object)) (e as Record<string, unknown>)[k] = 'written';
        c.counters.warnings += 1;
        expect(unpackState(p)).toStrictEqual(want);
        // and a second unpack into the written result is again equal
        expect(unpackStateInto(p, c)).toStrictEqual(want);
      }),
      { numRuns: 40 },
    );
  });

  it('packs a chain of states, each after an earlier one, to states equal to each, sharing the chunks that did not change', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(wideOpArb, fc.nat()), { minLength: 2, maxLength: 6 }), (segments) => {
        const s = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
        const packed: PackedState[] = [];
        const want: MachineState[] = [];
        for (const [ops, pick] of segments) {
          for (const op of ops) s.exec(toCommand(op));
          // packed after the last one, or after an older one (as the viewer's idle-time densify packs after the
          // snapshot it replayed from)
          const prev = packed.length ? packed[packed.length - 1 - (pick % packed.length)] : undefined;
          const p = packState(s.state as MachineState, prev);
          expect(p.sharedBytes).toBeLessThanOrEqual(p.bytes);
          if (!prev) expect(p.sharedBytes).toBe(0);
          packed.push(p);
          want.push(oracle(s.state as MachineState));
        }
        // a state packed again right after itself shares every chunk
        const again = packState(s.state as MachineState, packed[packed.length - 1]);
        expect(packedBytesOf([packed[packed.length - 1]!, again])).toBe(again.bytes + (again.bytes - again.sharedBytes));
        packed.forEach((p, i) => {
          const a = unpackState(p);
          expect(a).toStrictEqual(want[i]);
          expectWellFormed(a);
          // written, the unpacked copy changes no packed state
          for (const [, m] of tableMapsOf(a)) for (const [, e] of m) for (const k of Object.keys(e as object)) (e as Record<string, unknown>)[k] = 'written';
        });
        packed.forEach((p, i) => expect(unpackState(p)).toStrictEqual(want[i]));
        const alone = packed.reduce((n, p) => n + p.bytes, 0);
        expect(packedBytesOf(packed)).toBeLessThanOrEqual(alone);
        expect(packedBytesOf(packed)).toBeGreaterThanOrEqual(Math.max(...packed.map((p) => p.bytes)));
      }),
      { numRuns: 40 },
    );
  });

  it('packs a state at GiB addresses with sparse sub-tables, and one whose entries the columns cannot hold', () => {
    const s = sim(small(2, '6.18'));
    expect(s.exec({ kind: 'add_memory', node: 0, range: { startBytes: 64n * GiB, sizeBytes: BLOCK }, flags: [] }).ok).toBe(true);
    const state = s.state as MachineState;
    expect(unpackState(packState(state))).toStrictEqual(oracle(state));
    // values outside the columns' ranges are kept as copies, exactly
    const odd = oracle(state);
    const [sec] = [...odd.sections.keys()];
    odd.sectionTable[sec!]!.subsectionMap = 1n << 80n;
    odd.sectionTable[sec!]!.nid = 2 ** 40;
    const [blk] = [...odd.blocks.keys()];
    odd.blockTable[blk!]!.nrVmemmapPages = -0;
    odd.blockTable[blk!]!.zone = 'a string the codes have not seen' as never;
    expect(unpackState(packState(odd))).toStrictEqual(oracle(odd));
  });
});
