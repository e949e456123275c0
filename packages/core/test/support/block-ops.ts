/**
 * Random hotplug operations on blocks 16–23 (128 MiB each) of the small test machine, and the reference copy of a
 * state, shared by the property tests of cloneState (deep-copy) and packState (snapshot).
 */
import fc from 'fast-check';
import { TableMap, tableMapsOf, type Command, type MachineState } from '../../src/index.js';
import { MiB } from './machines.js';

export const BLOCK = 128n * MiB;

export const opArb = fc.array(
  fc.record({ block: fc.integer({ min: 16, max: 23 }), kind: fc.constantFrom('add', 'add_mom', 'online_movable', 'online_kernel', 'offline', 'remove') }),
  { minLength: 1, maxLength: 12 },
);

export function toCommand({ block, kind }: { block: number; kind: string }): Command {
  const range = { startBytes: BigInt(block) * BLOCK, sizeBytes: BLOCK };
  if (kind === 'add') return { kind: 'add_memory', node: 0, range, flags: [] };
  if (kind === 'add_mom') return { kind: 'add_memory', node: 0, range, flags: ['memmap_on_memory'] };
  if (kind === 'remove') return { kind: 'remove_memory', range };
  return { kind: 'block_state', block, state: kind as 'online_movable' | 'online_kernel' | 'offline' };
}

/** What cloneState used to be: structuredClone, then the TableMaps get their class back. */
export function oracle(s: MachineState): MachineState {
  const c = structuredClone(s);
  for (const [, m] of tableMapsOf(c)) Object.setPrototypeOf(m, TableMap.prototype);
  return c;
}
