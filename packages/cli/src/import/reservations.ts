/**
 * Boot reservations of an imported machine: run the scenario import wrote (without reservations) through its
 * command steps, compare the model's zoneinfo with the machine's, and let core's deriveBootReservations say what
 * the real kernel holds back beyond what memhp models (kernel image, firmware, crashkernel …).
 */
import { deriveBootReservations, type ZoneName } from '@memhp/core';
import type { BackendRegistry } from '../backends.js';
import { loadScenario } from '../scenario/load.js';
import { createSimulator, viewZoneinfo } from '../sim.js';
import type { RealMachine } from './read.js';

/** Bytes per node and zone; empty when nothing could be derived (the reason is in `notes`). */
export type ImportReservations = Map<number, Partial<Record<ZoneName, bigint>>>;

export function importReservations(m: RealMachine, scenarioText: string, registry: BackendRegistry, pageBytes: bigint, notes: string[]): ImportReservations {
  const out: ImportReservations = new Map();
  let model;
  try {
    const sc = loadScenario('(import)', scenarioText);
    const backend = registry.get(sc.arch.name, sc.arch.where);
    const sim = createSimulator({ machine: { ...sc.machine, arch: backend.id }, backend, seed: sc.faults.seed, faults: sc.faults, where: sc.where });
    sim.boot();
    // the driver-managed hot-adds come before the first expect: the machine was read after them
    for (const step of sc.steps) if (step.kind === 'command') for (const c of step.commands) sim.execute(c);
    model = viewZoneinfo(sim.state());
  } catch (e) {
    notes.push(`boot reservations not derived: the scenario does not run (${(e as Error).message})`);
    return out;
  }
  const memTotalKb = m.meminfo.MemTotal;
  const memTotalPages = memTotalKb === undefined ? undefined : Number((BigInt(memTotalKb) * 1024n) / pageBytes);
  const d = deriveBootReservations(m.zones, model, memTotalPages);
  for (const n of d.notes) notes.push(`boot reservations: ${n}`);
  for (const [nid, zones] of d.reservedPages) {
    const bytes: Partial<Record<ZoneName, bigint>> = {};
    for (const [zone, pages] of Object.entries(zones)) if (pages) bytes[zone as ZoneName] = BigInt(pages) * pageBytes;
    out.set(nid, bytes);
  }
  return out;
}
