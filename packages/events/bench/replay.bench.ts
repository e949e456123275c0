/**
 * `pnpm --filter @memhp/events bench`: one run, side by side, on one synthetic hotplug-shaped log.
 *   (a) floor: 4 MiB chunks + split + JSON.parse per line, no validation
 *   (b) memhp validated streaming replay (.ndjson) into a trivial evolve
 *   (c) the same from .ndjson.gz
 *   (d) the memhp writer (plain, with its writer thread, and gzip), and the naive stringify+join writer
 *   (d') the plain writer with its file writes on the producer's thread (`thread: false`), to a file and into
 *        /dev/null: the latter separates the writer's own cost from the kernel's page-cache cost
 * Each measurement runs in its own child process so its peak RSS is its own. MEMHP_BENCH_EVENTS scales it
 * (default 5,000,000). Figures go to bench-results/events.json at the repository root.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Measured {
  mode: string;
  events: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
  bytes: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const events = Number(process.env.MEMHP_BENCH_EVENTS ?? 5_000_000);
if (!Number.isSafeInteger(events) || events < 1000) throw new Error('MEMHP_BENCH_EVENTS must be an integer ≥ 1000');
const dir = mkdtempSync(join(tmpdir(), 'memhp-bench-'));
const plain = join(dir, 'bench.ndjson');
const gz = join(dir, 'bench.ndjson.gz');
const naive = join(dir, 'naive.ndjson');

function run(mode: string, file: string): Measured {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'child.ts'), mode, file, String(events)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${mode} failed (${r.status}): ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured;
  const rate = m.events / m.seconds / 1e6;
  const cpuRate = m.events / m.cpuSeconds / 1e6;
  console.log(
    `${mode.padEnd(12)} ${m.seconds.toFixed(2).padStart(7)} s wall ${rate.toFixed(3).padStart(6)} M/s | ${m.cpuSeconds.toFixed(2).padStart(7)} s cpu ${cpuRate.toFixed(3).padStart(6)} M/s | peak RSS ${m.maxRssMiB.toFixed(0).padStart(4)} MiB | ${(m.bytes / 2 ** 20).toFixed(0)} MiB file`,
  );
  return m;
}

console.log(`memhp events bench: ${events.toLocaleString('en')} events in ${dir}`);
try {
  const write = run('write', plain);
  // The same writer into /dev/null: serialisation and syscalls without the page cache, i.e. the writer's own cost.
  const writeSync = run('write-sync', plain);
  const writeNull = run('write-null-sync', '/dev/null');
  const writeGz = run('write-gz', gz);
  const writeNaive = run('write-naive', naive);
  rmSync(naive, { force: true });
  const floor = run('floor', plain);
  const replayPlain = run('replay', plain);
  const replayGz = run('replay-gz', gz);

  const rate = (m: Measured) => m.events / m.seconds;
  const cpuRate = (m: Measured) => m.events / m.cpuSeconds;
  const ratioB = rate(replayPlain) / rate(floor);
  const ratioC = rate(replayGz) / rate(floor);
  const cpuRatioB = cpuRate(replayPlain) / cpuRate(floor);
  const cpuRatioC = cpuRate(replayGz) / cpuRate(floor);
  const targets = {
    replayVsFloor: { value: ratioB, cpuValue: cpuRatioB, target: '>= 0.5', ok: ratioB >= 0.5 },
    replayPeakRssMiB: { value: replayPlain.maxRssMiB, target: '< 256', ok: replayPlain.maxRssMiB < 256 },
    replayGzPeakRssMiB: { value: replayGz.maxRssMiB, target: '< 256', ok: replayGz.maxRssMiB < 256 },
    writerEventsPerSecond: { value: rate(write), cpuValue: cpuRate(write), target: '>= 1e6', ok: rate(write) >= 1e6 },
  };
  const ok = (b: boolean) => (b ? 'ok' : 'MISSED');
  console.log('');
  console.log(`load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cpus`);
  console.log(`(b)/(a) replay vs floor        wall ${ratioB.toFixed(2)}  cpu ${cpuRatioB.toFixed(2)}  (target ≥ 0.5)  ${ok(targets.replayVsFloor.ok)}`);
  console.log(`(c)/(a) gzip replay vs floor   wall ${ratioC.toFixed(2)}  cpu ${cpuRatioC.toFixed(2)}`);
  console.log(`peak RSS, replay (b) / (c)     ${replayPlain.maxRssMiB.toFixed(0)} / ${replayGz.maxRssMiB.toFixed(0)} MiB  (target < 256)  ${ok(targets.replayPeakRssMiB.ok && targets.replayGzPeakRssMiB.ok)}`);
  console.log(`(d) writer                     wall ${(rate(write) / 1e6).toFixed(2)}  cpu ${(cpuRate(write) / 1e6).toFixed(2)} M events/s  (target ≥ 1)  ${ok(targets.writerEventsPerSecond.ok)}`);
  console.log(`(d) writer, writes on caller    wall ${(rate(writeSync) / 1e6).toFixed(2)}  cpu ${(cpuRate(writeSync) / 1e6).toFixed(2)} M events/s  (thread: false)`);
  console.log(`(d) writer to /dev/null         wall ${(rate(writeNull) / 1e6).toFixed(2)}  cpu ${(cpuRate(writeNull) / 1e6).toFixed(2)} M events/s`);
  console.log(`(d) gzip writer                wall ${(rate(writeGz) / 1e6).toFixed(2)}  cpu ${(cpuRate(writeGz) / 1e6).toFixed(2)} M events/s`);
  console.log(`(d) writer vs naive stringify  wall ${(rate(write) / rate(writeNaive)).toFixed(2)}×  cpu ${(cpuRate(write) / cpuRate(writeNaive)).toFixed(2)}×`);

  const out = {
    bench: 'events',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg(),
    events,
    lineBytesMean: write.bytes / events,
    measurements: { write, writeSync, writeNull, writeGz, writeNaive, floor, replay: replayPlain, replayGz },
    cpuEventsPerSecond: {
      floor: cpuRate(floor),
      replay: cpuRate(replayPlain),
      replayGz: cpuRate(replayGz),
      write: cpuRate(write),
      writeSync: cpuRate(writeSync),
      writeNull: cpuRate(writeNull),
      writeGz: cpuRate(writeGz),
      writeNaive: cpuRate(writeNaive),
    },
    eventsPerSecond: {
      floor: rate(floor),
      replay: rate(replayPlain),
      replayGz: rate(replayGz),
      write: rate(write),
      writeSync: rate(writeSync),
      writeNull: rate(writeNull),
      writeGz: rate(writeGz),
      writeNaive: rate(writeNaive),
    },
    ratios: { replayVsFloor: ratioB, replayGzVsFloor: ratioC, writerVsNaive: rate(write) / rate(writeNaive) },
    cpuRatios: { replayVsFloor: cpuRatioB, replayGzVsFloor: cpuRatioC, writerVsNaive: cpuRate(write) / cpuRate(writeNaive) },
    targets,
  };
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'events.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote bench-results/events.json`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
