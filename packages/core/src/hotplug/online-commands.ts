/**
 * Command handlers for the sysfs and sysctl writes of part B (apps/docs/kernel/hotplug.md#onlining, apps/docs/kernel/knobs.md#runtime, apps/docs/kernel/user-space.md#sysfs):
 * - `block_state`: memoryN/state (drivers/base/memory.c state_store → device_online/device_offline): writing an
 *   online type to an online block, or "offline" to an offline one, is -EINVAL (the device core's "already" 1).
 * - `block_online`: memoryN/online (drivers/base/core.c online_store): the same request is a no-op success.
 * - `auto_online_blocks`, `sysctl`: runtime knobs (params/runtime.ts), recorded as `knob.set`.
 */
import type { CommandHandlers, KernelCtx } from '../commands/registry.js';
import { fail, ok } from '../kernel/errno.js';
import type { RuntimeKnobs } from '../params/types.js';
import { canonicalKnobName, runtimeKnobSpecs, writeKnob, type KnobContext } from '../params/runtime.js';
import { memoryBlockOffline } from './offline.js';
import { memoryBlockOnline } from './online.js';

/** The knob context of a running machine. */
export function knobContext(ctx: KernelCtx): KnobContext {
  const g = ctx.machine.geometry;
  const P = g.pageBytes;
  const optimisableHstate = ctx.backend
    .hugepageSizes(ctx.archConfig)
    .some((h) => (Number(h.bytes / BigInt(P)) * g.structPageBytes) / P > 1); // hugetlb_vmemmap_optimizable: w > 1 (apps/docs/kernel/hvo.md#conditions)
  return {
    kernel: ctx.kernel,
    params: ctx.state.params,
    structPageBytes: g.structPageBytes,
    optimisableHstate,
    hvoCapable: ctx.machine.capabilities.hugetlbVmemmapOptimize,
  };
}

const FIELD_OF: Readonly<Record<string, keyof RuntimeKnobs>> = {
  'memory.auto_online_blocks': 'autoOnlineBlocks',
  'memory_hotplug.online_policy': 'onlinePolicy',
  'memory_hotplug.auto_movable_ratio': 'autoMovableRatio',
  'memory_hotplug.auto_movable_numa_aware': 'autoMovableNumaAware',
  'vm.hugetlb_optimize_vmemmap': 'hugetlbOptimizeVmemmap',
  'vm.nr_overcommit_hugepages': 'nrOvercommitHugepages',
};

function setKnob(ctx: KernelCtx, name: string, value: string) {
  const kc = knobContext(ctx);
  const r = writeKnob(ctx.state.knobs as RuntimeKnobs, kc, name, value);
  if (!r.ok) return fail(r.errno, r.why);
  const field = FIELD_OF[r.name];
  const spec = runtimeKnobSpecs(kc).find((k) => k.name === r.name);
  if (!field || !spec) return fail('ENOENT', `${name}: not a knob memhp models`);
  const v = r.knobs[field];
  ctx.emitOther('knob.set', { name: r.name, path: spec.path, field, value: v === null ? false : v });
  return ok();
}

/** Handlers registered by part B for the sysfs/sysctl command kinds. */
export const onlineCommandHandlers: CommandHandlers = {
  block_state: (ctx, cmd) => {
    const b = ctx.state.blockTable[cmd.block];
    if (!b) return fail('ENOENT', `/sys/devices/system/memory/memory${cmd.block} does not exist`);
    if (cmd.state === 'offline') {
      if (b.state === 'offline') return fail('EINVAL', `memory${cmd.block} is already offline (state_store turns "already" into -EINVAL)`);
      return memoryBlockOffline(ctx, cmd.block);
    }
    if (b.state !== 'offline') return fail('EINVAL', `memory${cmd.block} is already ${b.state} (state_store turns "already" into -EINVAL)`);
    return memoryBlockOnline(ctx, cmd.block, cmd.state);
  },
  block_online: (ctx, cmd) => {
    const b = ctx.state.blockTable[cmd.block];
    if (!b) return fail('ENOENT', `/sys/devices/system/memory/memory${cmd.block} does not exist`);
    if (cmd.online) return b.state === 'online' ? ok() : memoryBlockOnline(ctx, cmd.block, 'online');
    return b.state === 'offline' ? ok() : memoryBlockOffline(ctx, cmd.block);
  },
  auto_online_blocks: (ctx, cmd) => setKnob(ctx, 'memory.auto_online_blocks', cmd.value),
  sysctl: (ctx, cmd) => setKnob(ctx, canonicalKnobName(cmd.name), cmd.value),
};
