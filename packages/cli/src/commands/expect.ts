/**
 * The `expect` step: compare what the simulated kernel reports (through core's views) with what the scenario
 * asks. Counter deltas ("+129024 kB") are relative to the previous `expect` step (or to boot).
 */
import type { BlockExpect, CounterExpect, ExpectSpec } from '../scenario/load.js';
import type { ReadonlyMachineState } from '@memhp/core';
import { blockIds } from '../parse/ranges.js';
import { viewBlocks, viewMeminfo, viewVmstat, viewZoneinfo, type KResultLike } from '../sim.js';

export interface Baseline {
  meminfo?: Record<string, number>;
  vmstat?: Record<string, number>;
  zoneinfo?: Record<string, Record<string, number>>;
}

export interface ExpectFailure {
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
}

function zoneTable(state: ReadonlyMachineState): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const z of viewZoneinfo(state)) {
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(z)) if (typeof v === 'number') row[k] = v;
    out[`node${z.node}/${z.zone}`] = row;
  }
  return out;
}

/** Take the counters an `expect` may compare against later. Views that core does not have yet are skipped. */
export function snapshot(state: ReadonlyMachineState, spec?: ExpectSpec): Baseline {
  const b: Baseline = {};
  const tryView = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  if (!spec || spec.meminfo) b.meminfo = tryView(() => viewMeminfo(state));
  if (!spec || spec.vmstat) b.vmstat = tryView(() => viewVmstat(state));
  if (!spec || spec.zoneinfo) b.zoneinfo = tryView(() => zoneTable(state));
  return b;
}

function compareCounters(
  group: string,
  want: Readonly<Record<string, CounterExpect>>,
  now: Record<string, number>,
  base: Record<string, number> | undefined,
  failures: ExpectFailure[],
): void {
  for (const [k, e] of Object.entries(want)) {
    // Own properties only: "constructor" or "__proto__" are not counters, whatever Object.prototype holds.
    const cur = Object.hasOwn(now, k) ? now[k] : undefined;
    if (typeof cur !== 'number') {
      failures.push({ what: `${group} ${k}`, expected: e.text, actual: `(no such counter; have ${Object.keys(now).slice(0, 12).join(', ')}…)` });
      continue;
    }
    const unit = e.unit ? ` ${e.unit}` : '';
    if (e.delta) {
      const was = base && Object.hasOwn(base, k) ? (base[k] ?? 0) : 0;
      const d = cur - was;
      if (d !== e.value) failures.push({ what: `${group} ${k}`, expected: `${e.value >= 0 ? '+' : ''}${e.value}${unit}`, actual: `${d >= 0 ? '+' : ''}${d}${unit} (${was} → ${cur})` });
    } else if (cur !== e.value) failures.push({ what: `${group} ${k}`, expected: `${e.value}${unit}`, actual: `${cur}${unit}` });
  }
}

function compareBlock(id: number, want: BlockExpect, have: Record<string, unknown> | undefined, failures: ExpectFailure[]): void {
  if (want.exists === false) {
    if (have) failures.push({ what: `memory${id}`, expected: 'no such block', actual: `exists (${String(have.state)})` });
    return;
  }
  if (!have) {
    failures.push({ what: `memory${id}`, expected: 'exists', actual: 'no such block' });
    return;
  }
  for (const k of ['state', 'valid_zones', 'phys_index', 'removable'] as const) {
    const w = want[k];
    if (w === undefined) continue;
    const a = String(have[k] ?? '').trim();
    if (a !== w.trim()) failures.push({ what: `memory${id}/${k}`, expected: w, actual: a || '(empty)' });
  }
}

/** At most this many block differences per expect step are listed. */
const MAX_FAILURES = 1000;

export function checkExpect(spec: ExpectSpec, last: KResultLike | null, state: ReadonlyMachineState, base: Baseline): ExpectFailure[] {
  const failures: ExpectFailure[] = [];
  if (spec.errno !== undefined) {
    const actual = last === null ? 'no previous step' : last.ok ? 'ok' : last.errno;
    if (actual !== spec.errno) failures.push({ what: 'errno of the previous step', expected: spec.errno, actual: last && !last.ok ? `${actual} (${last.why})` : actual });
  }
  if (spec.meminfo) compareCounters('meminfo', spec.meminfo, viewMeminfo(state), base.meminfo, failures);
  if (spec.vmstat) compareCounters('vmstat', spec.vmstat, viewVmstat(state), base.vmstat, failures);
  if (spec.zoneinfo) {
    const zones = zoneTable(state);
    for (const [z, fields] of Object.entries(spec.zoneinfo)) {
      if (!Object.hasOwn(zones, z)) {
        failures.push({ what: `zoneinfo ${z}`, expected: 'exists', actual: `no such zone (have ${Object.keys(zones).join(', ')})` });
        continue;
      }
      compareCounters(`zoneinfo ${z}`, fields, zones[z]!, base.zoneinfo && Object.hasOwn(base.zoneinfo, z) ? base.zoneinfo[z] : undefined, failures);
    }
  }
  if (spec.blocks) {
    const byId = new Map(viewBlocks(state).map((b) => [b.id, { ...b } as Record<string, unknown>]));
    // Ranges are walked, never expanded; a long run of failing blocks is reported up to a bound.
    for (const { ranges, expect: want } of spec.blocks) {
      for (const id of blockIds(ranges)) {
        if (failures.length >= MAX_FAILURES) break;
        compareBlock(id, want, byId.get(id), failures);
      }
    }
    if (failures.length >= MAX_FAILURES) failures.push({ what: '…', expected: `(only the first ${MAX_FAILURES} differences are listed)`, actual: '' });
  }
  return failures;
}
