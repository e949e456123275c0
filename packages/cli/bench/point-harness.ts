// Runs sweep points in one process, as a local pool's worker does (checkPoint then runPoint, after 16 warm-up
// points), and prints per point: wall and CPU time (all threads: process.cpuUsage), GC pauses (perf_hooks 'gc'
// entries) and a hash of the rows (unchanged by a change that must not change results). HARNESS_HEAP=FILE also
// writes a sampling heap profile of every allocation, collected or not (open it in Chrome DevTools).
// From packages/cli: node --import tsx bench/point-harness.ts ../fleet/bench/grid-512-resize.yaml [N=64] [first=0]
// (add --trace-gc or --cpu-prof as needed).
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadSweepFile } from '@memhp/fleet/local';
import { BackendRegistry } from '../src/backends.js';
import { runPoint, checkPoint } from '../src/sweep/point.js';
import type { LoadedScenario } from '../src/scenario/load.js';

const [file, nArg, firstArg] = process.argv.slice(2);
const sweep = loadSweepFile(file!);
const n = Number(nArg ?? 64);
const first = Number(firstArg ?? 0);
const registry = await BackendRegistry.create();
let gcMs = 0;
let gcs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcMs += e.duration;
    gcs++;
  }
}).observe({ entryTypes: ['gc'] });
const hash = createHash('sha256');
const warm = 16;
const loaded = new Map<string, LoadedScenario>();
const pts = sweep.points.slice(first, first + n);
for (const p of sweep.points.slice(0, warm)) {
  checkPoint(file!, p, loaded);
  await runPoint({ file: file!, point: p }, registry, loaded.get(p.id));
}
const heapOut = process.env.HARNESS_HEAP;
let session: Session | undefined;
const post = (m: string, params?: object): Promise<{ profile?: unknown }> =>
  new Promise((res, rej) => session!.post(m, params ?? {}, (e, r) => (e ? rej(e) : res(r as { profile?: unknown }))));
if (heapOut) {
  session = new Session();
  session.connect();
  await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const gc0 = gcMs;
const gcs0 = gcs;
for (const p of pts) {
  checkPoint(file!, p, loaded);
  const row = await runPoint({ file: file!, point: p }, registry, loaded.get(p.id));
  hash.update(JSON.stringify(row));
}
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
if (heapOut) {
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(heapOut, JSON.stringify(profile));
}
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ points: pts.length, msPerPointWall: +(wall / pts.length).toFixed(2), cpuMsPerPoint: +((cpu.user + cpu.system) / 1000 / pts.length).toFixed(2), gcMsPerPoint: +((gcMs - gc0) / pts.length).toFixed(2), gcsPerPoint: +((gcs - gcs0) / pts.length).toFixed(2), rows: hash.digest('hex').slice(0, 16) }));
