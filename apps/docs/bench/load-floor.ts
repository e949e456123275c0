/**
 * Load-floor probe (not a test, not part of the bench): how fast could the viewer load a log at best, against the
 * yardstick of issue 19 (`memhp replay`, whole process)? In rounds, each in the same minute:
 *  - cli:    `memhp replay <log> --report summary`, a whole process (wall, and its CPU from /usr/bin/time);
 *  - node:   the CLI's replay loop (readLogStream batches → core's evolve) in a fresh Node process over the log
 *            already in memory: the CLI less its start-up and file reading;
 *  - floor:  the same loop in a bare Chromium worker (floor.worker.ts, built as the site builds its workers) over the
 *            log already in memory: no page drawn, no reader/inflate worker, no snapshots, no progress messages (a
 *            gzip log inflated in line, by the viewer's pako gunzip);
 *  - worker: the viewer's replay worker (built from source as the site builds it, or the builds --worker-dir names:
 *            `--build-worker <dir>` makes one) on a blank page, its reading worker beside it: the viewer's load less
 *            the page's drawing; it says how long the load waited for bytes and packed snapshots;
 *  - site:   (with --site <dist>) the viewer itself, as the bench opens it: file picker to the page's ready;
 *  - session, session-nosnap, session-file: (named in --only) the viewer's LogSession in a bare worker over the log
 *            in memory, with its snapshots, samples and marks (without snapshots; over the File read in line);
 *  - read-*: (named in --only) reading the File alone in a worker: by its stream, gathered into 256 KiB buffers as the
 *            reading worker once did, by slices (--slice-mib), FileReaderSync, whole.
 * Each browser run is a fresh browser; the CPU of the whole browser and of its busiest threads is read from /proc.
 * Linux only.
 * Run: node --import tsx bench/load-floor.ts --log <file> [--log <file.gz>] [--runs N] [--site .vitepress/dist]
 *      [--only cli,node,floor,worker,site,session,session-nosnap,session-file,read-stream,read-gather,read-slices,
 *      read-sync,read-whole] [--worker-dir <dir>]...
 *
 * Measured on the 2-core machine (Chromium 156, the viewer bench's 1,032,688-event log, 174 MB; load average 6–16,
 * so walls are noise and CPU seconds are the figures), medians of 3 unless said:
 *  - CPU of the replay loop: node 2.48 s; floor (the worker's thread) 2.58 s (2.00–2.97 over 7 runs); the CLI's
 *    whole process 3.10 s. V8 in a Chromium worker runs the loop as fast as Node does: none of the gap is there.
 *  - the viewer's LogSession in a bare worker: 2.94–4.12 s on its thread; its packs cost ~13 ms each in Chromium
 *    (~4 ms in Node), 50–90 of them (fewer on an idle machine: the gaps are bounded by the load's busy time).
 *  - reading the 174 MB File alone: 1.0–1.6 s of CPU over the browser's threads (0.6–0.75 s in the reading one),
 *    whichever way it is read; the CLI reads it in ~0.05 s. Gathering the stream's chunks into fresh 256 KiB
 *    buffers cost the reading thread 0.6 s more (read-gather 1.24–1.40 s against read-stream 0.65–0.74 s).
 *  - the viewer (worker or site): 2.4–3.9 s on the replay thread, 4.0–7.8 s for the whole browser; V8's helper
 *    threads (ThreadPoolForeg) ~0.5–0.9 s, the browser's and page's main threads ~0.3–0.6 s.
 *  - gzip: pako inflates the log in ~1.0–1.6 s of CPU; the load then waits ~2–3 s for bytes on a busy machine
 *    (the inflate worker shares the second core with the rest of the browser).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { launchWithProfile } from '../test/chromium.js';
import { serveDir } from '../test/static-server.js';
import { browserCpuMs, browserThreadCpuMs } from './proc-cpu.js';
import { loadLog, openViewer } from './seek.js';

const args = process.argv.slice(2);
const docsDir = resolve(import.meta.dirname, '..');
const repo = resolve(docsDir, '../..');

if (args[0] === '--node-floor') {
  // the child: the CLI's loop over the log in memory (gzip inflated beforehand, not timed: zlib runs beside the CLI's
  // loop on a thread of its own)
  const { replayLoop, views } = await import('./floor-loop.js');
  const file = args[1]!;
  let bytes: Uint8Array = readFileSync(file);
  if (file.endsWith('.gz')) bytes = gunzipSync(bytes);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const lastSeq = await replayLoop(views(bytes), file);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, lastSeq }));
  process.exit(0);
}

const all = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
const logs = all('--log').map((f) => resolve(f));
const site = all('--site').map((f) => resolve(f))[0];
const runs = Number(all('--runs')[0] ?? 3);
/** Bytes a slice for read-slices and read-sync (--slice-mib, default 1). */
const sliceBytes = Number(all('--slice-mib')[0] ?? 1) * 1048576;
const only = new Set((all('--only')[0] ?? 'cli,node,floor,worker,site').split(','));
// the read-* kinds (what reading a File costs) only when named
if (!site) only.delete('site');

interface Figure {
  wall: number;
  /** Seconds of CPU: the process's, or the busiest browser threads' (name → seconds). */
  cpu: number;
  threads?: string;
}

function cli(log: string): Figure {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', process.execPath, join(repo, 'packages/cli/dist/bin.js'), 'replay', log, '--report', 'summary'], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`memhp replay exited ${r.status}: ${r.stderr}`);
  const [e, u, s] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: e!, cpu: u! + s! };
}

function nodeFloor(log: string): Figure {
  const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--node-floor', log], { encoding: 'utf8', cwd: docsDir });
  if (r.status !== 0) throw new Error(`node floor exited ${r.status}: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; cpuMs: number };
  return { wall: j.ms / 1000, cpu: j.cpuMs / 1000 };
}

/**
 * The busiest threads' CPU between two readings, as "name seconds, …" (a thread that ended in between, such as the
 * reading worker's, is not among them), and the whole browser's (`cpu0`: browserCpuMs before; ended threads count).
 */
function threadDelta(profile: string, cpu0: number, before: Map<string, number>, after: Map<string, number>): { threads: string; total: number } {
  const d = [...after].map(([k, ms]) => [k.split(' ').slice(1).join(' '), (ms - (before.get(k) ?? 0)) / 1000] as const);
  const total = (browserCpuMs(profile) - cpu0) / 1000;
  const busiest = d.filter(([, s]) => s >= 0.05).sort((a, b) => b[1] - a[1]).slice(0, 10);
  return { threads: busiest.map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', '), total };
}

/** The floor worker built as the site builds its workers (Vite, es2022, minified), served with a blank page. */
let floorDir: string | null = null;
async function buildFloor(): Promise<string> {
  if (floorDir) return floorDir;
  const { build } = await import('vite');
  const out = mkdtempSync(join(tmpdir(), 'memhp-floor-build-'));
  await build({
    root: docsDir,
    configFile: false,
    logLevel: 'error',
    build: { target: 'es2022', outDir: out, emptyOutDir: true, lib: { entry: join(docsDir, 'bench/floor.worker.ts'), formats: ['es'], fileName: () => 'floor.worker.js' } },
  });
  floorDir = out;
  return out;
}

/**
 * A module worker (served from `dir` at `worker`) on a blank page of a fresh browser: `start` is posted with the log
 * as the file picker gives it, and `run` (if any) once the worker answers `ready`; timed, and the threads' CPU read,
 * from `run` (or `start`) to the worker's `done` message (whose `ms` is the worker's own figure).
 */
async function inBrowser(log: string, dir: string, worker: string, start: string, run: string | null, done: string, extra: object = {}): Promise<Figure> {
  const server = await serveDir(dir);
  const browser = await launchWithProfile('memhp-floor-');
  const { page, profile } = browser;
  try {
    await page.route('**/__blank.html', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title><input type="file" id="file">' }));
    await page.goto(`${server.url}/__blank.html`);
    // tsx (esbuild's keepNames) wraps named functions in the evaluated code in __name, which the page lacks
    await page.evaluate('globalThis.__name = (f) => f');
    await page.locator('#file').setInputFiles(log);
    await page.evaluate(
      async ([url, startKind, runKind, more]) => {
        const w = new Worker(url, { type: 'module' });
        (window as unknown as { w: Worker }).w = w;
        const file = (document.getElementById('file') as HTMLInputElement).files![0]!;
        if (runKind) {
          await new Promise<void>((res, rej) => {
            w.onmessage = (ev) => (ev.data.kind === 'ready' ? res() : ev.data.kind === 'error' ? rej(new Error(ev.data.message)) : undefined);
            w.postMessage({ kind: startKind, file, name: file.name });
          });
        } else (window as unknown as { start: () => void }).start = () => w.postMessage({ kind: startKind, file, name: file.name, ...more });
      },
      [worker, start, run, extra] as const,
    );
    await new Promise((r) => setTimeout(r, 500));
    const th0 = browserThreadCpuMs(profile);
    const cpu0 = browserCpuMs(profile);
    const t0 = Date.now();
    const got = await page.evaluate(
      async ([runKind, doneKind, more]) => {
        const w = (window as unknown as { w: Worker }).w;
        return new Promise<{ ms: number; waitMs?: number; packMs?: number; snapshots?: number }>((res, rej) => {
          w.onmessage = (ev) => {
            if (ev.data.kind === 'error') rej(new Error(ev.data.message));
            else if (ev.data.kind === doneKind) res(ev.data);
          };
          if (runKind) w.postMessage({ kind: runKind, ...more });
          else (window as unknown as { start: () => void }).start();
        });
      },
      [run, done, extra] as const,
    );
    const wall = (Date.now() - t0) / 1000;
    const d = threadDelta(profile, cpu0, th0, browserThreadCpuMs(profile));
    const parts = got.waitMs !== undefined ? `, waited ${(got.waitMs / 1000).toFixed(2)} s, packed ${got.snapshots ?? ''} in ${((got.packMs ?? 0) / 1000).toFixed(2)} s` : '';
    return { wall: got.ms / 1000, cpu: d.total, threads: `(page to page ${wall.toFixed(2)} s${parts}) ${d.threads}` };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function siteLoad(log: string): Promise<Figure> {
  const server = await serveDir(site!);
  const browser = await launchWithProfile('memhp-floor-site-');
  const { page, profile } = browser;
  try {
    await openViewer(page, server.url);
    await new Promise((r) => setTimeout(r, 500));
    const th0 = browserThreadCpuMs(profile);
    const cpu0 = browserCpuMs(profile);
    const t0 = Date.now();
    await loadLog(page, log);
    const wall = (Date.now() - t0) / 1000;
    const d = threadDelta(profile, cpu0, th0, browserThreadCpuMs(profile));
    return { wall, cpu: d.total, threads: d.threads };
  } finally {
    await browser.close();
    await server.close();
  }
}

/**
 * The viewer's replay worker (with its reading and inflate workers) built from the current source as the site builds
 * it (Vite, es2022, module workers), into a directory of its own: seconds, where the whole site takes minutes.
 * `--worker-dir <dir>` (repeatable) names such builds kept from before (e.g. of another commit) to run in turn instead.
 */
let workerDirs: string[] | null = null;
async function viewerWorkers(): Promise<string[]> {
  if (workerDirs) return workerDirs;
  const given = all('--worker-dir').map((d) => resolve(d));
  if (given.length) return (workerDirs = given);
  const out = mkdtempSync(join(tmpdir(), 'memhp-floor-viewer-'));
  await buildViewerWorker(out);
  built.push(out);
  return (workerDirs = [out]);
}
const built: string[] = [];

/** Builds viewer/replay.worker.ts into `out`/replay.js (its nested workers under assets/). */
export async function buildViewerWorker(out: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    root: docsDir,
    configFile: false,
    publicDir: false,
    logLevel: 'error',
    worker: { format: 'es' },
    build: {
      target: 'es2022',
      outDir: out,
      emptyOutDir: true,
      rollupOptions: { input: { replay: join(docsDir, 'viewer/replay.worker.ts') }, output: { entryFileNames: '[name].js', format: 'es' }, preserveEntrySignatures: 'strict' },
    },
  });
}

if (args[0] === '--build-worker') {
  await buildViewerWorker(resolve(args[1]!));
  console.log(`built the viewer's replay worker into ${resolve(args[1]!)}`);
  process.exit(0);
}

const kinds: Record<string, (log: string) => Promise<Figure> | Figure> = {
  cli,
  node: nodeFloor,
  floor: async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read', 'run', 'done'),
  worker: async (log) => {
    const dirs = await viewerWorkers();
    const figs: Figure[] = [];
    for (const dir of dirs) figs.push(await inBrowser(log, dir, '/replay.js', 'open', null, 'loaded'));
    if (dirs.length > 1) for (let i = 0; i < dirs.length; i++) console.log(`  worker ${dirs[i]}: ${figs[i]!.wall.toFixed(2)} s, CPU ${figs[i]!.cpu.toFixed(2)} s [${figs[i]!.threads}]`);
    return figs[0]!;
  },
  site: siteLoad,
  // the viewer's LogSession over the log in memory, in a bare worker: the floor plus snapshots, samples and marks
  // (256 KiB chunks, as the reading worker sends them); and the same without snapshots during the load
  session: async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read', 'session', 'done', { chunk: 256 << 10, opts: {} }),
  // the same over the File, read in line by its stream in that worker (no reading worker beside it)
  'session-file': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'session-file', null, 'done', { opts: {} }),
  'session-nosnap': async (log) =>
    inBrowser(log, await buildFloor(), '/floor.worker.js', 'read', 'session', 'done', { chunk: 256 << 10, opts: { snapshotMinEvents: 1e9, seekReplayMs: 1e9 } }),
  // what reading the File alone costs in a worker, by its stream (as the viewer's reader worker reads it), by slices
  // (--slice-mib, Blob.arrayBuffer), by FileReaderSync of such slices, and whole
  'read-stream': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read-only', null, 'done', { how: 'stream' }),
  'read-gather': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read-only', null, 'done', { how: 'gather', chunk: 256 << 10 }),
  'read-slices': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read-only', null, 'done', { how: 'slices', chunk: sliceBytes }),
  'read-sync': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read-only', null, 'done', { how: 'sync', chunk: sliceBytes }),
  'read-whole': async (log) => inBrowser(log, await buildFloor(), '/floor.worker.js', 'read-only', null, 'done', { how: 'whole' }),
};

const results: Record<string, number[]> = {};
try {
  for (let round = 0; round < runs; round++) {
    for (const log of logs) {
      for (const [kind, run] of Object.entries(kinds)) {
        if (!only.has(kind)) continue;
        const f = await run(log);
        (results[`${kind} ${log.split('/').pop()}`] ??= []).push(f.wall);
        console.log(
          `${kind.padEnd(6)} ${log.split('/').pop()}: ${f.wall.toFixed(2)} s, CPU ${f.cpu.toFixed(2)} s${f.threads ? ` [${f.threads}]` : ''}; load average ${loadavg()[0]!.toFixed(2)}`,
        );
      }
    }
  }
} finally {
  for (const d of [floorDir, ...built]) if (d) rmSync(d, { recursive: true, force: true });
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('medians (s):', Object.fromEntries(Object.entries(results).map(([k, xs]) => [k, +med(xs).toFixed(2)])));
for (const log of logs) {
  const name = log.split('/').pop();
  const c = results[`cli ${name}`];
  if (!c) continue;
  for (const kind of ['node', 'floor', 'worker', 'site']) {
    const r = results[`${kind} ${name}`];
    if (r) console.log(`${name}: ${kind} / cli = ${(med(r) / med(c)).toFixed(2)}`);
  }
}
