/**
 * ZONE_DEVICE (apps/docs/kernel/zone-device.md#zone-device; seed 002): memremap_pages / memunmap_pages through mhp_params, with memory
 * providers (set-up + construct hooks) as the extension point. {@link deviceCommandHandlers} serves the built-in
 * providers; pass `createMemremapHandlers([...BUILTIN_PROVIDERS, yours])` in `createSimulator({ commands })` to
 * add one without touching core.
 */
import type { CommandHandlers } from '../commands/registry.js';
import { createMemremapHandlers } from './memremap.js';
import { BUILTIN_PROVIDERS } from './provider.js';

export const deviceCommandHandlers: CommandHandlers = createMemremapHandlers(BUILTIN_PROVIDERS);

export * from './state.js';
export * from './provider.js';
export * from '../hotplug/mhp-params.js';
export { memremapPages, memunmapPages, createMemremapHandlers } from './memremap.js';
export { populateCompoundPages } from './compound.js';
export { viewPgmaps, type PgmapRow } from './views.js';
