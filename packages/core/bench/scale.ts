/**
 * Scale benchmark (issue 3 "Scale"): an x86-64-like machine (the test backend, 4K pages, 5-level paging so the
 * physical space reaches past 64 TiB), 64 GiB of boot RAM, then hot-add 1/4/16/64 TiB in 128 MiB blocks with
 * memmap_on_memory (kernel 6.18: per-block altmaps), online every block movable, offline and remove all.
 * Each (size, recording) pair runs in its own process so peak RSS is its own. Recording modes: none (only
 * evolve subscribes), count (a counting subscriber), read (read-floor.ts: reads every payload field and string
 * character and writes nothing, the floor under any recorder on this thread), log (the @memhp/events/node writer
 * to a temp file).
 *
 *   pnpm --filter @memhp/core bench            # all sizes, writes bench-results/core-scale.json
 *   pnpm --filter @memhp/core bench -- --sizes 1,4
 *
 * The script bundles this file with core and events (bench/tsup.config.ts) and runs the bundle with plain node:
 * what users run is the built code, and a source loader (tsx wraps every nested function for its names) would
 * add its own cost to a per-event figure.
 *
 * MEMHP_BENCH_LOG_DIR puts the log elsewhere than the temp dir, e.g. /dev/shm, to separate the filesystem's cost
 * from memhp's (measured on this VM: at 4 TiB tmpfs saved 16% of the log run's CPU, at 64 TiB — a 4.4 GiB log —
 * nothing).
 * MEMHP_BENCH_FREEZE=1 runs with the bus's default deep freeze of every payload (off by default here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBus } from '@memhp/events';
import { openLogWriter } from '@memhp/events/node';
import { createSimulator, type MachineConfig } from '../src/index.js';
import { attachReadFloor } from './read-floor.js';
import { testBackend } from '../test/support/test-backend.js';

const GiB = 1n << 30n;
const TiB = 1n << 40n;
const BLOCK = 128n << 20n;
const MODES = ['none', 'count', 'read', 'log'] as const;
type Mode = (typeof MODES)[number];

interface ChildResult {
  tib: number;
  mode: Mode;
  blocks: number;
  events: number;
  seconds: { boot: number; add: number; online: number; offline: number; remove: number; total: number };
  /** CPU seconds (user + system) of this process: stable when other work shares the machine. */
  cpuSeconds: { boot: number; add: number; online: number; offline: number; remove: number; total: number };
  /**
   * CPU seconds (user + system) by thread, boot to the last remove (Linux /proc; null elsewhere): the simulating
   * thread, the threads the log writer started (its writer and I/O threads), and the runtime's own (V8's platform
   * workers: concurrent compilation and GC). Two cores: the recorded run's wall time is bounded below by the
   * simulating thread and by the sum over two.
   */
  threadCpuSeconds: { main: number; logWriter: number; runtime: number } | null;
  peakRssMiB: number;
  heapAfterAddMiB: number;
  logBytes: number | null;
  logDir: string | null;
  /** The read mode's checksum over every value it read (null in the other modes). */
  readChecksum: number | null;
  freeze: boolean;
  failures: number;
}

function machine(): MachineConfig {
  return {
    arch: 'test-x86',
    pageSizeBytes: 4096,
    structPageBytes: 64,
    kernel: '6.18',
    cmdline: 'memory_hotplug.memmap_on_memory=1',
    features: { la57: true },
    blockSizeBytes: BLOCK,
    nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: 64n * GiB }] }],
  };
}

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture memhp models. */
const USER_HZ = 100;

/** CPU seconds of each thread of this process, by thread id (null where /proc is not Linux's). */
function threadCpu(): Map<number, number> | null {
  try {
    const byThread = new Map<number, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14 and stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byThread.set(Number(tid), (Number(f[11]) + Number(f[12])) / USER_HZ);
    }
    return byThread;
  } catch {
    return null;
  }
}

function threadBreakdown(start: Map<number, number> | null, end: Map<number, number> | null): ChildResult['threadCpuSeconds'] {
  if (start === null || end === null) return null;
  const r = { main: 0, logWriter: 0, runtime: 0 };
  for (const [tid, cpu] of end) {
    const used = cpu - (start.get(tid) ?? 0);
    if (tid === process.pid) r.main += used;
    else if (start.has(tid)) r.runtime += used;
    else r.logWriter += used;
  }
  return r;
}

async function child(tib: number, mode: Mode): Promise<ChildResult> {
  // Threads that exist before the log writer opens are the runtime's; those that appear after it are the writer's.
  const threadsAtStart = threadCpu();
  const bus = new EventBus({ freeze: process.env.MEMHP_BENCH_FREEZE === '1' });
  const sim = createSimulator({ config: machine(), backend: testBackend, bus, autoBoot: false });
  let events = 0;
  let logPath: string | null = null;
  let writer: ReturnType<typeof openLogWriter> | null = null;
  if (mode === 'count') bus.on('counter', () => void events++);
  const checksum = mode === 'read' ? attachReadFloor(bus, sim.catalogue) : null;
  if (mode === 'log') {
    logPath = join(process.env.MEMHP_BENCH_LOG_DIR ?? tmpdir(), `memhp-core-scale-${process.pid}.ndjson`);
    writer = openLogWriter(logPath, sim.header());
    writer.attach(bus);
  }
  const t = () => performance.now() / 1000;
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const c: number[] = [];
  const t0 = t();
  c.push(cpu());
  sim.boot();
  const t1 = t();
  c.push(cpu());
  const base = 64n * GiB;
  const blocks = Number((BigInt(tib) * TiB) / BLOCK);
  let failures = 0;
  for (let i = 0; i < blocks; i++) {
    const r = sim.exec({ kind: 'add_memory', node: 0, range: { startBytes: base + BigInt(i) * BLOCK, sizeBytes: BLOCK }, flags: ['memmap_on_memory'] });
    if (!r.ok) failures++;
  }
  const t2 = t();
  c.push(cpu());
  const heapAfterAdd = process.memoryUsage().heapUsed;
  const first = Number(base / BLOCK);
  for (let i = 0; i < blocks; i++) if (!sim.exec({ kind: 'block_state', block: first + i, state: 'online_movable' }).ok) failures++;
  const t3 = t();
  c.push(cpu());
  for (let i = 0; i < blocks; i++) if (!sim.exec({ kind: 'block_state', block: first + i, state: 'offline' }).ok) failures++;
  const t4 = t();
  c.push(cpu());
  for (let i = 0; i < blocks; i++) {
    if (!sim.exec({ kind: 'remove_memory', range: { startBytes: base + BigInt(i) * BLOCK, sizeBytes: BLOCK } }).ok) failures++;
  }
  const t5 = t();
  c.push(cpu());
  // Before close(): the writer's threads exit once they have drained.
  const threads = threadBreakdown(threadsAtStart, threadCpu());
  let logBytes: number | null = null;
  if (writer && logPath) {
    await writer.close();
    logBytes = statSync(logPath).size;
  }
  const t6 = t();
  c.push(cpu());
  // Unlinking a multi-GB file costs the file system a while: not part of the run.
  if (logPath) rmSync(logPath, { force: true });
  const d = (i: number) => c[i + 1]! - c[i]!;
  return {
    tib,
    mode,
    blocks,
    events: sim.state.lastSeq,
    seconds: { boot: t1 - t0, add: t2 - t1, online: t3 - t2, offline: t4 - t3, remove: t5 - t4, total: t6 - t0 },
    cpuSeconds: { boot: d(0), add: d(1), online: d(2), offline: d(3), remove: d(4), total: c[6]! - c[0]! },
    threadCpuSeconds: threads,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    heapAfterAddMiB: heapAfterAdd / 2 ** 20,
    logBytes,
    logDir: logPath === null ? null : dirname(logPath),
    readChecksum: checksum === null ? null : checksum(),
    freeze: process.env.MEMHP_BENCH_FREEZE === '1',
    failures,
  };
}

function describeRow(r: ChildResult): string {
  const s = r.seconds;
  return (
    `${String(r.tib).padStart(2)} TiB ${r.mode.padEnd(5)} ${String(r.blocks).padStart(7)} blocks ${String(r.events).padStart(9)} events ` +
    `cpu ${r.cpuSeconds.total.toFixed(2)} s, wall ${s.total.toFixed(2)} s (add ${s.add.toFixed(2)}, online ${s.online.toFixed(2)}, offline ${s.offline.toFixed(2)}, remove ${s.remove.toFixed(2)}) ` +
    `peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${(r.events / r.cpuSeconds.total / 1e6).toFixed(2)} M events per CPU second, failures ${r.failures}` +
    (r.logBytes !== null ? `, log ${(r.logBytes / 2 ** 20).toFixed(0)} MiB in ${r.logDir}` : '') +
    (r.threadCpuSeconds
      ? `; CPU by thread: simulating ${r.threadCpuSeconds.main.toFixed(2)} s, log writer ${r.threadCpuSeconds.logWriter.toFixed(2)} s, runtime ${r.threadCpuSeconds.runtime.toFixed(2)} s`
      : '') +
    (r.freeze ? ', frozen payloads' : '')
  );
}

/**
 * Merge the fresh rows into the results file and write it; returns what it wrote. Rows of earlier runs are kept
 * unless re-measured, so sizes can be run separately (`--sizes 64 --modes log`).
 */
function writeResults(file: string, fresh: ChildResult[]) {
  let rows: ChildResult[] = [];
  if (existsSync(file)) {
    try {
      rows = (JSON.parse(readFileSync(file, 'utf8')) as { rows?: ChildResult[] }).rows?.filter((r) => r.cpuSeconds !== undefined) ?? [];
    } catch {
      rows = [];
    }
  }
  for (const r of fresh) rows = [...rows.filter((x) => !(x.tib === r.tib && x.mode === r.mode)), r];
  rows.sort((x, y) => x.tib - y.tib || x.mode.localeCompare(y.mode));
  const by = (tib: number, mode: Mode) => rows.find((r) => r.tib === tib && r.mode === mode);
  const sizes = [...new Set(rows.map((r) => r.tib))];
  const ratio = (tib: number, mode: Mode, wall: boolean) => {
    const a = by(tib, mode);
    const b = by(tib, 'none');
    if (!a || !b) return null;
    return wall ? a.seconds.total / b.seconds.total : a.cpuSeconds.total / b.cpuSeconds.total;
  };
  // Wall time is what the target is about (the writer thread runs on the other core); CPU time adds both threads.
  const ratios = sizes.map((tib) => ({
    tib,
    countOverNoneWall: ratio(tib, 'count', true),
    readOverNoneWall: ratio(tib, 'read', true),
    logOverNoneWall: ratio(tib, 'log', true),
    countOverNoneCpu: ratio(tib, 'count', false),
    readOverNoneCpu: ratio(tib, 'read', false),
    logOverNoneCpu: ratio(tib, 'log', false),
  }));
  const perBlockUs = rows
    .filter((r) => r.mode === 'none')
    .map((r) => ({
      tib: r.tib,
      cpuUsPerBlock: (r.cpuSeconds.total * 1e6) / r.blocks,
      wallUsPerBlock: (r.seconds.total * 1e6) / r.blocks,
      cpuUsPerBlockByPhase: {
        add: (r.cpuSeconds.add * 1e6) / r.blocks,
        online: (r.cpuSeconds.online * 1e6) / r.blocks,
        offline: (r.cpuSeconds.offline * 1e6) / r.blocks,
        remove: (r.cpuSeconds.remove * 1e6) / r.blocks,
      },
      rssMiB: r.peakRssMiB,
    }));
  writeFileSync(
    file,
    JSON.stringify(
      {
        bench: 'core-scale',
        machine: 'test-x86 (x86-64-like), 4K pages, 5-level paging, 64 GiB boot, 128 MiB blocks, kernel 6.18, memmap_on_memory=1',
        node: process.version,
        date: new Date().toISOString(),
        note: 'ratios and per-block figures use CPU time (user+system, all threads) of each child: wall time on this shared 2-core machine varies with other work',
        targets: { seconds64TiB: 15, peakRssMiB64TiB: 1536, recordingRatio: 1.3 },
        rows,
        ratios,
        perBlockUs,
      },
      null,
      2,
    ) + '\n',
  );
  return { rows, ratios, perBlockUs };
}

function parent(sizes: number[], modes: Mode[]): void {
  const self = fileURLToPath(import.meta.url);
  // bench/scale.ts or its bundle bench/.out/scale.js: the repository root is above packages/core either way.
  const root = resolve(self.slice(0, self.lastIndexOf('/packages/core/')));
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  const file = join(root, 'bench-results', 'core-scale.json');
  const fresh: ChildResult[] = [];
  let all: ReturnType<typeof writeResults> | null = null;
  for (const tib of sizes) {
    for (const mode of modes) {
      // The same flags this run has (none for the bundled bench, the tsx loader when run from source).
      const out = execFileSync(process.execPath, [...process.execArgv, '--max-old-space-size=3072', self, '--child', String(tib), mode], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
      fresh.push(r);
      console.log(describeRow(r));
      all = writeResults(file, fresh);
    }
  }
  if (all === null) return;
  const f = (x: number | null | undefined) => x?.toFixed(2) ?? '-';
  for (const r of all.ratios) {
    console.log(
      `${r.tib} TiB: count/none ${f(r.countOverNoneWall)}× wall (${f(r.countOverNoneCpu)}× CPU), ` +
        `read/none ${f(r.readOverNoneWall)}× wall (${f(r.readOverNoneCpu)}× CPU; the floor under any recorder), ` +
        `log/none ${f(r.logOverNoneWall)}× wall (${f(r.logOverNoneCpu)}× CPU)  [target: log/none ≤ 1.3×]`,
    );
  }
  const recorded = all.rows.find((r) => r.tib === 64 && r.mode === 'log');
  if (recorded) {
    console.log(
      `64 TiB recorded to a log: ${recorded.seconds.total.toFixed(2)} s wall [target ≤ 15 s], peak RSS ${recorded.peakRssMiB.toFixed(0)} MiB [target ≤ 1536 MiB]`,
    );
  }
  for (const p of all.perBlockUs) {
    console.log(`${p.tib} TiB: ${p.cpuUsPerBlock.toFixed(1)} µs CPU (${p.wallUsPerBlock.toFixed(1)} µs wall) per block for add+online+offline+remove, peak RSS ${p.rssMiB.toFixed(0)} MiB`);
  }
  console.log(`wrote ${file}`);
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  const r = await child(Number(argv[1]), argv[2] as Mode);
  process.stdout.write(JSON.stringify(r) + '\n');
} else {
  const i = argv.indexOf('--sizes');
  const sizes = i >= 0 ? argv[i + 1]!.split(',').map(Number) : [1, 4, 16, 64];
  const j = argv.indexOf('--modes');
  const modes = (j >= 0 ? argv[j + 1]!.split(',') : [...MODES]) as Mode[];
  const bad = modes.find((m) => !(MODES as readonly string[]).includes(m));
  if (bad !== undefined || sizes.some((x) => !Number.isSafeInteger(x) || x < 1)) {
    console.error(bad !== undefined ? `--modes: unknown mode ${JSON.stringify(bad)} (known: ${MODES.join(', ')})` : `--sizes: whole TiB counts ≥ 1, e.g. --sizes 1,4`);
    process.exit(2);
  }
  parent(sizes, modes);
}
