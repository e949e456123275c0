/**
 * Direct arch_add_memory / arch_remove_memory callers for tests: the way memremap_pages (ZONE_DEVICE) reaches
 * the sparse code at 2 MiB granularity, without resources or memory blocks. Registered in place of the
 * memremap_pages / memunmap_pages kinds, which core part A does not model.
 */
import {
  archAddMemory,
  archRemoveMemory,
  createSimulator,
  fail,
  ok,
  sparseAddSection,
  type CommandHandlers,
  type KResult,
  type MachineConfig,
  type MachineState,
  type Simulator,
  type SimulatorOptions,
} from '../../src/index.js';
import { testBackend } from './test-backend.js';

export const rawHandlers: CommandHandlers = {
  memremap_pages: (ctx, cmd): KResult => {
    const g = ctx.machine.geometry;
    if (cmd.range.sizeBytes === 0n) {
      // sparse_add_section with an empty range: fill_subsection_map sees an empty mask
      const r = sparseAddSection(ctx, cmd.node, Number(cmd.range.startBytes >> BigInt(g.pageShift)), 0, null);
      return r === 0 ? ok() : fail(r, 'sparse_add_section');
    }
    const r = archAddMemory(ctx, cmd.node, cmd.range.startBytes, cmd.range.sizeBytes, null);
    return r === 0 ? ok() : fail(r, 'arch_add_memory');
  },
  memunmap_pages: (ctx, cmd): KResult => {
    if (!cmd.range) return fail('EINVAL', 'range needed');
    archRemoveMemory(ctx, cmd.range.startBytes, cmd.range.sizeBytes, null);
    return ok();
  },
};

export function sim(config: MachineConfig, opts: Partial<SimulatorOptions> = {}): Simulator {
  return createSimulator({ config, backend: testBackend, checkInvariants: true, commands: [rawHandlers], ...opts });
}

export const rawAdd = (s: Simulator, startBytes: bigint, sizeBytes: bigint, node = 0): KResult =>
  s.exec({ kind: 'memremap_pages', node, range: { startBytes, sizeBytes }, type: 'devdax' });
export const rawRemove = (s: Simulator, startBytes: bigint, sizeBytes: bigint): KResult =>
  s.exec({ kind: 'memunmap_pages', range: { startBytes, sizeBytes } });

/** The parts of the state a failed or undone command must leave exactly as they were. */
export function modelOf(s: Simulator['state']) {
  const st = s as MachineState;
  return structuredClone({
    sections: st.sections,
    roots: st.roots,
    vmemmap: st.vmemmap,
    altmaps: st.altmaps,
    blocks: st.blocks,
    resources: st.resources.map(({ id: _id, ...r }) => r),
    nodes: st.nodes,
    counters: { ...st.counters, warnings: 0 },
  });
}

/** Events of the last command, by type. */
export function lastOpEvents(s: Simulator): Array<{ type: string; payload: unknown }> {
  return s.bus.recent().filter((e) => e.op === s.state.lastOp).map((e) => ({ type: e.type, payload: e.payload }));
}
