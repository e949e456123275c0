export * from './kernel/errno.js';
export * from './kernel/version.js';
export * from './arch/backend.js';
export * from './api.js';
export * from './params/types.js';
// core part A: model, commands, sparse, vmemmap, hotplug add/remove, boot, faults, invariants, replay
export * from './model/state.js';
export * from './model/geometry.js';
export * from './model/events.js';
export * from './model/evolve.js';
export * from './model/machine.js';
export * from './model/resources.js';
export * from './commands/registry.js';
export * from './commands/json.js';
export * from './simulator.js';
export { replayState, replayStateAsync } from './replay.js';
export * from './faults/injector.js';
export * from './faults/rng.js';
export * from './sparse/index.js';
export * from './vmemmap/altmap.js';
export * from './vmemmap/context.js';
export * from './vmemmap/runs.js';
export * from './hotplug/add-memory.js';
export * from './hotplug/remove-memory.js';
export * from './hotplug/arch-add-memory.js';
export * from './hotplug/memory-block.js';
export * from './hotplug/resource.js';
export * from './boot/boot.js';
export * from './invariants/check.js';
// core part B: params, version rules, memmap_on_memory, online/offline and zones, drivers, views, plan
export * from './params/cmdline.js';
export * from './params/runtime.js';
export * from './params/describe.js';
export * from './kernel/rules.js';
export * from './memmap-on-memory/index.js';
export * from './hotplug/zone.js';
export * from './hotplug/auto-movable.js';
export * from './hotplug/valid-zones.js';
export * from './hotplug/online.js';
export * from './hotplug/offline.js';
export * from './hotplug/online-commands.js';
export * from './hotplug/online-events.js';
export * from './drivers/index.js';
export * from './views/index.js';
export * from './plan/index.js';
// issue 5: HugeTLB pool and HVO
export * from './hugetlb/index.js';
// issue 5: ZONE_DEVICE, mhp_params, memory providers
export * from './device/index.js';
