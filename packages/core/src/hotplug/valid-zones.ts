/**
 * memoryN/valid_zones (drivers/base/memory.c valid_zones_show, 6.1; apps/docs/kernel/user-space.md#sysfs): an online block prints its
 * zone, or "none" when it spans several zones/nodes; an offline block prints the zone plain "online" would
 * pick, then — space-separated, only if different — what online_kernel and online_movable would pick.
 */
import type { ZoneName } from '../arch/backend.js';
import { blockIdToPfn } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { zoneForPfnRange } from './zone.js';

/** The text of valid_zones without the trailing newline, or null when the block does not exist. */
export function validZones(s: ReadonlyMachineState, blockId: number): string | null {
  const b = s.blockTable[blockId];
  if (!b) return null;
  if (b.state === 'online') return b.zone ?? 'none';
  const g = s.machine.geometry;
  const start = blockIdToPfn(g, blockId);
  const nr = g.pagesPerBlock;
  const def = zoneForPfnRange(s, 'online', b.nid, b.group, start, nr);
  const out: ZoneName[] = [def];
  for (const t of ['online_kernel', 'online_movable'] as const) {
    const z = zoneForPfnRange(s, t, b.nid, b.group, start, nr);
    if (z !== def) out.push(z);
  }
  return out.join(' ');
}
