import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventEnvelope } from '@memhp/events';
import { createSimulator, ERRNO, evolve, InvariantViolation, replayState, type ApplierTable, type Command, type KernelVersion, type MachineState } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { GiB, MiB, small } from './support/machines.js';

const blockOp = fc.record({ block: fc.integer({ min: 28, max: 47 }), state: fc.constantFrom('online', 'online_kernel', 'online_movable', 'offline') as fc.Arbitrary<'online' | 'online_kernel' | 'online_movable' | 'offline'> });

const command: fc.Arbitrary<Command> = fc.oneof(
  blockOp.map((o) => ({ kind: 'block_state', ...o }) as Command),
  fc.record({ block: fc.integer({ min: 28, max: 47 }), online: fc.boolean() }).map((o) => ({ kind: 'block_online', ...o }) as Command),
  fc.integer({ min: 0, max: 7 }).map((i) => ({ kind: 'add_memory', node: 0, range: { startBytes: 4n * GiB + BigInt(i) * 128n * MiB, sizeBytes: 128n * MiB }, flags: [] }) as Command),
  fc.integer({ min: 0, max: 7 }).map((i) => ({ kind: 'remove_memory', range: { startBytes: 4n * GiB + BigInt(i) * 128n * MiB, sizeBytes: 128n * MiB } }) as Command),
  fc.constantFrom('a', 'b').map((id) => ({ kind: 'plug_dimm', id, node: 0, sizeBytes: 256n * MiB }) as Command),
  fc.constantFrom('a', 'b').map((id) => ({ kind: 'unplug_dimm', id }) as Command),
  fc.integer({ min: 0, max: 96 }).map((n) => ({ kind: 'virtio_mem', id: 'v', node: 0, regionStartBytes: 8n * GiB, regionBytes: 512n * MiB, requestedBytes: BigInt(n) * 4n * MiB }) as Command),
  fc.constantFrom('online', 'offline').map((action) => ({ kind: 'dax_kmem', id: 'dax', node: 0, range: { startBytes: 12n * GiB, sizeBytes: 256n * MiB }, action }) as Command),
  fc.constantFrom('offline', 'online', 'online_movable').map((value) => ({ kind: 'auto_online_blocks', value }) as Command),
  fc.constantFrom('contig-zones', 'auto-movable').map((value) => ({ kind: 'sysctl', name: 'memory_hotplug.online_policy', value }) as Command),
);

/** Map and bigint aware structural copy for equality across live and replayed state. */
const plain = (s: unknown) => structuredClone(s);

/** The property for one kernel, with evolve optionally carrying a planted bug. */
const keepsInvariantsAndReplays = (kernel: KernelVersion, planted: readonly ApplierTable[] = []) =>
  fc.property(fc.array(command, { minLength: 1, maxLength: 14 }), fc.boolean(), (cmds, mom) => {
    const sim = createSimulator({
      config: small(1, kernel, mom ? 'memory_hotplug.memmap_on_memory=1' : ''),
      backend: testBackend,
      checkInvariants: true,
      autoBoot: false,
      appliers: planted,
    });
    const events: EventEnvelope[] = [];
    const sub = sim.bus.on('record', (e) => events.push(e));
    sim.boot();
    for (const c of cmds) {
      const r = sim.exec(c);
      if (!r.ok) expect(Object.keys(ERRNO)).toContain(r.errno);
    }
    sub.unsubscribe();
    const replayed = replayState(events, sim.header());
    expect(plain(replayed)).toEqual(plain(sim.state));
  });

/** Planted bug: pages onlined after boot reach the zone's managed count but not totalram_pages. */
const onlineForgetsTotalram: ApplierTable = {
  'zone.managed': (st: MachineState, p: { delta: number }, e: EventEnvelope) => {
    evolve(st, e);
    if (e.op > 0) st.counters.totalramPages -= p.delta;
  },
} as unknown as ApplierTable;

describe('online/offline and drivers under random operation sequences', () => {
  for (const kernel of ['6.1', '6.18'] as KernelVersion[]) {
    it(`keeps the invariants, returns 0 or a kernel errno, and replays to the identical state (kernel ${kernel})`, () => {
      fc.assert(keepsInvariantsAndReplays(kernel), { numRuns: 25 });
    });
  }

  it('fails through the invariant checker when onlining forgets totalram_pages (a planted bug)', () => {
    const r = fc.check(keepsInvariantsAndReplays('6.18', [onlineForgetsTotalram]), { numRuns: 25, seed: 21, endOnFailure: true });
    expect(r.failed).toBe(true);
    expect(r.errorInstance).toBeInstanceOf(InvariantViolation);
    expect((r.errorInstance as InvariantViolation).invariant).toBe('counters match the state');
  });
});
