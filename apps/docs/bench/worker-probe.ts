/**
 * Replay-worker probe (not a test, not part of the bench): runs the viewer's replay worker from source (Vite, no site
 * build) in real Chromium on a log, and reports the load's wall time and the browser's CPU time (/proc), then N seeks
 * to random events (each: the worker's own frame time; and the browser CPU they took together). Worker console lines
 * are printed. `--worker /path/replay.worker.ts` (repeatable) names the worker module(s) to run, so that a copy of
 * another version's viewer/ directory put beside it (e.g. viewer-A/, not committed) runs in the same browser, in
 * turn. With --paired, every worker loads the log and finishes its idle upkeep, then each seek target is taken by
 * each worker in turn: paired seek times, for A/B on a busy machine, where unpaired wall times are noise.
 * Linux only. Run: node --import tsx bench/worker-probe.ts <log> [--runs N] [--seeks N] [--paired] [--worker URL]...
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { startViteSource } from '../test/vite-source.js';
import { launchWithProfile } from '../test/chromium.js';
import { browserCpuMs } from './proc-cpu.js';

const args = process.argv.slice(2);
const opt = (f: string, d: number): number => (args.includes(f) ? Number(args[args.indexOf(f) + 1]) : d);
const runs = opt('--runs', 2);
const nSeeks = opt('--seeks', 20);
const workers = args.flatMap((a, i) => (args[i - 1] === '--worker' ? [a] : []));
if (!workers.length) workers.push('/viewer/replay.worker.ts');
const logs = args.filter((a, i) => !a.startsWith('--') && !['--runs', '--seeks', '--worker'].includes(args[i - 1] ?? '')).map((f) => resolve(f));

const vite = await startViteSource();
const browser = await launchWithProfile('memhp-probe-');
const { page, profile } = browser;
try {
  page.on('console', (m) => console.log('  [page]', m.text()));
  page.on('worker', (w) => w.on('console', (m) => console.log('  [worker]', m.text())));
  await page.goto(vite.url);
  // tsx (esbuild's keepNames) wraps named functions in the evaluated code in __name, which the page lacks
  await page.evaluate('globalThis.__name = (f) => f');
  if (args.includes('--paired')) {
    // every worker loads the log and finishes its idle upkeep (no CPU of its own left to compete), then each seek
    // target is taken by every worker in turn: paired frame times, from the workers' own clocks
    await page.locator('#file').setInputFiles(logs[0]!);
    const r = await page.evaluate(
      async ([urls, n]) => {
        const file = (document.getElementById('file') as HTMLInputElement).files![0]!;
        const ws: Worker[] = [];
        let lastSeq = 0;
        for (const url of urls) {
          const w = new Worker(url, { type: 'module' });
          ws.push(w);
          await new Promise<void>((res, rej) => {
            w.onmessage = (ev) => {
              if (ev.data.kind === 'loaded') lastSeq = ev.data.lastSeq;
              if (ev.data.kind === 'idle') res();
              if (ev.data.kind === 'error') rej(new Error(ev.data.message));
            };
            w.postMessage({ kind: 'open', file, name: file.name });
          });
        }
        const ms: number[][] = urls.map(() => []);
        for (let i = 0; i < n; i++) {
          const seq = 1 + Math.floor(Math.random() * (lastSeq - 1));
          for (let j = 0; j < ws.length; j++) {
            const w = ws[j]!;
            ms[j]!.push(
              await new Promise<number>((res, rej) => {
                w.onmessage = (ev) => (ev.data.kind === 'frame' ? res(ev.data.ms) : ev.data.kind === 'error' ? rej(new Error(ev.data.message)) : undefined);
                w.postMessage({ kind: 'seek', seq });
              }),
            );
          }
        }
        for (const w of ws) w.terminate();
        return ms;
      },
      [workers, nSeeks] as const,
    );
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    for (let j = 0; j < workers.length; j++) console.log(`${workers[j]}: ${nSeeks} seeks median ${med(r[j]!).toFixed(0)} ms, max ${Math.max(...r[j]!).toFixed(0)}, mean ${(r[j]!.reduce((a, b) => a + b, 0) / nSeeks).toFixed(0)}`);
    if (workers.length === 2) console.log(`paired difference (2nd − 1st): median ${med(r[1]!.map((x, i) => x - r[0]![i]!)).toFixed(1)} ms; load avg ${loadavg()[0]!.toFixed(2)}`);
    logs.length = 0;
  }
  for (const log of logs) {
    for (let i = 0; i < runs; i++) for (const worker of workers) {
      await page.locator('#file').setInputFiles(log);
      const c0 = browserCpuMs(profile);
      const load = await page.evaluate(async (url) => {
        const w = new Worker(url, { type: 'module' });
        (window as unknown as { w: Worker }).w = w;
        const file = (document.getElementById('file') as HTMLInputElement).files![0]!;
        const t0 = performance.now();
        return new Promise<{ ms: number; lastSeq: number }>((res, rej) => {
          w.onmessage = (ev) => {
            if (ev.data.kind === 'loaded') res({ ms: performance.now() - t0, lastSeq: ev.data.lastSeq });
            if (ev.data.kind === 'frame') (window as unknown as { first: boolean }).first = true;
            if (ev.data.kind === 'error') rej(new Error(ev.data.message));
          };
          w.postMessage({ kind: 'open', file, name: file.name });
        });
      }, worker);
      const c1 = browserCpuMs(profile);
      const seeks = await page.evaluate(
        async ([n, lastSeq]) => {
          const w = (window as unknown as { w: Worker }).w;
          const ms: number[] = [];
          // the first frame (the last event) comes unasked after the load
          function frame(): Promise<number> {
            return new Promise<number>((res, rej) => {
              w.onmessage = (ev) => (ev.data.kind === 'frame' ? res(ev.data.ms) : ev.data.kind === 'error' ? rej(new Error(ev.data.message)) : undefined);
              setTimeout(() => rej(new Error('no frame in 20 s')), 20_000);
            });
          }
          if (!(window as unknown as { first: boolean }).first) await frame();
          (window as unknown as { first: boolean }).first = false;
          for (let i = 0; i < n; i++) {
            const p = frame();
            w.postMessage({ kind: 'seek', seq: 1 + Math.floor(Math.random() * (lastSeq - 1)) });
            ms.push(await p);
          }
          w.terminate();
          ms.sort((a, b) => a - b);
          return { median: ms[Math.floor(n / 2)]!, max: ms[n - 1]! };
        },
        [nSeeks, load.lastSeq] as const,
      );
      const c2 = browserCpuMs(profile);
      console.log(
        `${worker} ${log.split('/').pop()}: load ${(load.ms / 1000).toFixed(2)} s wall, CPU ${((c1 - c0) / 1000).toFixed(2)} s; ${nSeeks} seeks median ${seeks.median.toFixed(0)} max ${seeks.max.toFixed(0)} ms, CPU ${((c2 - c1) / 1000).toFixed(2)} s; load avg ${loadavg()[0]!.toFixed(2)}`,
      );
    }
  }
} finally {
  await browser.close();
  await vite.close();
}
