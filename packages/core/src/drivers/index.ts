/**
 * The drivers users meet, as callers of the hotplug core: the ACPI memory device (DIMMs), virtio-mem and
 * dax/kmem. {@link driverCommandHandlers} registers their commands; their events and state are in ./events.ts.
 */
import type { CommandHandlers } from '../commands/registry.js';
import { acpiMemhpHandlers } from './acpi-memhp.js';
import { daxKmemHandlers } from './dax-kmem.js';
import { virtioMemHandlers } from './virtio-mem.js';

export const driverCommandHandlers: CommandHandlers = { ...acpiMemhpHandlers, ...virtioMemHandlers, ...daxKmemHandlers };

export * from './events.js';
export { acpiWantsMemmapOnMemory } from './acpi-memhp.js';
export { VIRTIO_MEM_RESOURCE_NAME, virtioMemResize } from './virtio-mem.js';
export { KMEM_RESOURCE_NAME } from './dax-kmem.js';
export { placeDevice, bootRamEnd, registerMemoryGroup, driverSupportsMemmapOnMemory } from './common.js';
