/**
 * One sweep point, run the way `memhp run` runs a scenario, and read into a results row: each step's result
 * or errno, and the counters users plan with, all through core's views and the run summary (no model logic
 * here). Also the check every point gets before a sweep starts, with errors located in the sweep file.
 */
import { join } from 'node:path';
import type { PointJob, PointProblem, ResultRow, Sweep, SweepPoint, Cell } from '@memhp/fleet/local';
import { headOf } from '@memhp/fleet/local';
import { loadScenarioData, type LoadedScenario } from '../scenario/load.js';
import { UserError } from '../errors.js';
import type { BackendRegistry } from '../backends.js';
import { runLoaded } from '../commands/run.js';
import { viewBlocks, viewMeminfo, viewVmstat } from '../sim.js';
import type { Out } from '../render/output.js';

/** Memmap sources every row has a column for (render/summary.ts counts them from vmemmap events). */
const MEMMAP_SOURCES = ['boot', 'buddy', 'altmap'] as const;
/** Zones a block can be onlined to (apps/docs/kernel/hvo.md#hvo). */
const ZONES = ['DMA', 'DMA32', 'Normal', 'Movable'] as const;

const silent: Out = { json: true, color: false, line: () => {}, err: () => {} };

/**
 * The point's scenario, checked and planned as `memhp run` does a file's, from the data the sweep file gave (no
 * second YAML parse: a problem is located by its field, in the sweep file). Through JSON first, so a point reads
 * the same here as in a worker process it reached over IPC or NATS as JSON.
 */
export function loadPoint(file: string, p: SweepPoint): LoadedScenario {
  return loadScenarioData(`${file} [${p.label}]`, JSON.parse(JSON.stringify(p.scenario)));
}

/** Check points (all of the sweep's by default) before they run; a problem is reported at its place in the sweep file. */
export function validatePoints(sweep: Sweep, points: readonly SweepPoint[] = sweep.points): void {
  for (const p of points) {
    const problem = checkPoint(sweep.file, p);
    if (problem) throw locateProblem(sweep, { index: p.index, ...problem });
  }
}

/**
 * Load one point as a run would; its problem, if it does not load (a worker of the local pool checks its share
 * of the points this way). A loaded point is kept in `cache` for its run.
 */
export function checkPoint(file: string, p: SweepPoint, cache?: Map<string, LoadedScenario>): { detail: string; field?: string } | undefined {
  try {
    const sc = loadPoint(file, p);
    cache?.set(p.id, sc);
    return undefined;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { detail: e.detail, ...(e.where.field ? { field: e.where.field } : {}) };
  }
}

/** A point's problem as an error at its place in the sweep file. */
export function locateProblem(sweep: Sweep, problem: PointProblem): UserError {
  const p = sweep.points[problem.index]!;
  const at = sweep.locate(problem.field ? parseFieldPath(problem.field) : []);
  return new UserError(`point ${p.index + 1} (${p.label}): ${problem.detail}`, { ...at, field: problem.field ?? at.field });
}

/** `steps[3].online.blocks` → ['steps', 3, 'online', 'blocks']. */
export function parseFieldPath(field: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

export async function runPoint(job: PointJob, registry: BackendRegistry, loaded?: LoadedScenario): Promise<ResultRow> {
  const p = job.point;
  const sc = loaded ?? loadPoint(job.file, p);
  const logFile = job.logs ? join(job.logs.dir, `${p.id}.ndjson`) : undefined;
  let run;
  try {
    // Unfrozen events: the point's only subscribers are memhp's own (sim.ts, createSimulator's freeze).
    run = await runLoaded(sc, job.file, logFile ? { output: logFile } : {}, registry, silent, { freeze: false });
  } catch (e) {
    if (e instanceof UserError) return { ...headOf(p), status: 'error', error: e.detail };
    throw e;
  }
  const { result, state } = run;
  const row: Record<string, Cell> = { ...headOf(p) };
  const failedStep = result.steps.find((s) => s.result !== 'ok');
  row.status = failedStep ? 'failed' : 'ok';
  row.error = failedStep ? `step ${failedStep.index + 1} (${failedStep.step}): ${failedStep.failures ? `${failedStep.failures.length} expectation(s) failed` : `-${failedStep.result}${failedStep.why ? ` (${failedStep.why})` : ''}`}` : null;
  row.arch = result.arch;
  row.kernel_version = result.kernel;
  for (const s of result.steps) row[`step${s.index + 1}`] = s.result;
  row.expect_failures = result.expectFailures;
  const meminfo = viewMeminfo(state);
  const vmstat = viewVmstat(state);
  row.MemTotal_kB = meminfo.MemTotal ?? null;
  row.MemFree_kB = meminfo.MemFree ?? null;
  row.nr_memmap_pages = vmstat.nr_memmap_pages ?? null;
  row.nr_memmap_boot_pages = vmstat.nr_memmap_boot_pages ?? null;
  const sum = result.summary;
  for (const src of MEMMAP_SOURCES) row[`memmap_bytes_${src}`] = Number(sum.memmapBytesBySource[src] ?? 0n);
  for (const [src, bytes] of Object.entries(sum.memmapBytesBySource)) if (!(MEMMAP_SOURCES as readonly string[]).includes(src)) row[`memmap_bytes_${src}`] = Number(bytes);
  const blocks = viewBlocks(state);
  row.blocks_offline = blocks.filter((b) => b.state !== 'online').length;
  for (const z of ZONES) row[`blocks_${z}`] = blocks.filter((b) => b.state === 'online' && b.valid_zones === z).length;
  row.memory_added_bytes = Number(sum.memoryAddedBytes);
  row.pmd_mappings = sum.mappings.pmd;
  row.pte_mappings = sum.mappings.pte;
  row.pmd_fallbacks = sum.mappings.pmdFallbacks;
  row.hvo_pages_freed = sum.hvo.pagesFreed;
  row.hvo_bytes_saved = sum.hvo.pagesFreed * sc.machine.pageSizeBytes;
  // `plan hot-add`'s question, asked of the run: did every hot-add succeed, and did the memmap it took from
  // free memory (the buddy allocator) fit in what was free at the end.
  const adds = result.steps.filter((s) => /^add_memory\b/.test(s.step));
  row.hot_adds_ok = adds.every((s) => s.result === 'ok');
  row.feasible = adds.every((s) => s.result === 'ok') && result.expectFailures === 0;
  return row;
}
