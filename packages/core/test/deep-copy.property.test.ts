/**
 * deepCopy / cloneState (model/deep-copy.ts): the copy is what structuredClone gives — same values, same holes,
 * same sharing — except that kept classes (TableMap) keep their class, and nothing of the original is reused.
 * The oracle is structuredClone itself, which is what cloneState used before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, TableMap, tableMapsOf, type MachineState } from '../src/index.js';
import { deepCopy } from '../src/model/deep-copy.js';
import { GiB, small } from './support/machines.js';
import { sim } from './support/raw.js';
import { BLOCK, opArb, oracle, toCommand } from './support/block-ops.js';

/**
 * Walk a value and its copy side by side: every object of the copy is new, and two paths that reach one object in
 * the original reach one object in the copy (and two different objects stay two).
 */
function expectSameSharing(orig: unknown, copy: unknown): void {
  const toCopy = new Map<object, object>();
  const fromCopy = new Map<object, object>();
  const walk = (a: unknown, b: unknown): void => {
    if (typeof a !== 'object' || a === null) return;
    expect(typeof b === 'object' && b !== null).toBe(true);
    expect(b).not.toBe(a);
    const seenA = toCopy.get(a);
    if (seenA !== undefined) {
      expect(b).toBe(seenA);
      return;
    }
    expect(fromCopy.has(b as object)).toBe(false);
    toCopy.set(a, b as object);
    fromCopy.set(b as object, a);
    if (a instanceof Map) {
      const bs = [...(b as Map<unknown, unknown>).values()];
      [...a.values()].forEach((v, i) => walk(v, bs[i]));
    } else if (a instanceof Set) {
      const bs = [...(b as Set<unknown>)];
      [...a].forEach((v, i) => walk(v, bs[i]));
    } else if (!ArrayBuffer.isView(a)) {
      for (const k of Object.keys(a)) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
    }
  };
  walk(orig, copy);
}

/** Values with sharing: a random value placed at several spots of a container, next to others. */
const sharedArb = fc
  .tuple(
    fc.anything({ withBigInt: true, withMap: true, withSet: true, withSparseArray: true, withNullPrototype: true, withDate: true, withTypedArray: true, withBoxedValues: true, maxDepth: 3 }),
    fc.anything({ withBigInt: true, withMap: true, withSet: true, withSparseArray: true, maxDepth: 2 }),
  )
  .map(([x, y]) => ({ x, again: [x, { x }], y, map: new Map<unknown, unknown>([[1, x], [2, y]]) }));

describe('deepCopy', () => {
  it('gives what structuredClone gives, sharing included, and reuses nothing', () => {
    fc.assert(
      fc.property(sharedArb, (v) => {
        const c = deepCopy(v);
        expect(c).toStrictEqual(structuredClone(v));
        expectSameSharing(v, c);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps holes and cycles, an own "__proto__" key, and the class of kept instances only', () => {
    class Kept {
      n = 1;
    }
    class Other {
      n = 2;
    }
    const sparse: unknown[] = [];
    sparse[5] = { a: 1 };
    sparse[3_000_000] = { b: 2 };
    const cyclic: Record<string, unknown> = { sparse, kept: new Kept(), other: new Other() };
    cyclic.self = cyclic;
    Object.defineProperty(cyclic, '__proto__', { value: 7, enumerable: true, writable: true, configurable: true });
    const c = deepCopy(cyclic, [Kept]);
    expect(c.self).toBe(c);
    expect(Object.keys(c.sparse as unknown[])).toEqual(['5', '3000000']);
    expect((c.sparse as unknown[])[3_000_000]).toEqual({ b: 2 });
    expect((c.sparse as unknown[])[3_000_000]).not.toBe(sparse[3_000_000]);
    expect(c.kept).toBeInstanceOf(Kept);
    expect(c.other).not.toBeInstanceOf(Other);
    expect(c.other).toEqual({ n: 2 });
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(c, '__proto__')?.value).toBe(7);
  });
});

describe('cloneState', () => {
  it('copies any state as structuredClone does, its TableMaps still TableMaps over the shared tables', () => {
    fc.assert(
      fc.property(opArb, (ops) => {
        const s = sim(small(2, '6.18', 'memory_hotplug.memmap_on_memory=1'));
        for (const op of ops) s.exec(toCommand(op));
        const state = s.state as MachineState;
        const c = cloneState(state);
        expect(c).toStrictEqual(oracle(state));
        expectSameSharing(state, c);
        for (const [, m] of tableMapsOf(c)) expect(m).toBeInstanceOf(TableMap);
        expect(c.sections.table).toBe(c.sectionTable);
        expect(c.blocks.table).toBe(c.blockTable);
      }),
      { numRuns: 40 },
    );
  });

  it('copies a state at GiB addresses with sparse sub-tables', () => {
    const s = sim(small(2, '6.18'));
    expect(s.exec({ kind: 'add_memory', node: 0, range: { startBytes: 64n * GiB, sizeBytes: BLOCK }, flags: [] }).ok).toBe(true);
    const c = cloneState(s.state as MachineState);
    expect(c).toStrictEqual(oracle(s.state as MachineState));
  });
});
