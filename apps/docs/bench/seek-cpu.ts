/**
 * Seek CPU probe (not a test, not part of the bench): opens a log in the built viewer in real Chromium, makes a
 * fixed sequence of random seeks, and reads from /proc the CPU time each costs in the renderer's threads (the
 * replay worker's, the page's main thread, its GC and raster helpers …) — seek costs can be compared on a busy
 * machine, where wall times are noise. Also the page's side of a frame: reading the message's data (structured-clone
 * deserialization), the handler, and what runs after it before the next task (Vue's patch, the canvas drawing).
 * Linux only. Build the site first (pnpm exec turbo run build --filter=@memhp/docs).
 * Run: node --import tsx bench/seek-cpu.ts <log> [seeks] [--site <dist>] (default: the built site, .vitepress/dist)
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/chromium.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { serveDir } from '../test/static-server.js';
import { lastSeqOf, loadLog, openViewer, seekTargets, timedSeek } from './seek.js';
import { statCpuMs } from './proc-cpu.js';

const docsDir = resolve(import.meta.dirname, '..');
const log = process.argv[2]!;
const n = Number(process.argv[3] ?? 30);

/** utime+stime (ms) of every thread of every renderer process, by "pid/tid name". */
function threads(): Map<string, number> {
  const m = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        m.set(`${pid}/${tid} ${name}`, statCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
      }
    } catch {
      // the process or thread is gone
    }
  }
  return m;
}

const site = process.argv.includes('--site') ? resolve(process.argv[process.argv.indexOf('--site') + 1]!) : join(docsDir, '.vitepress/dist');
const server = await serveDir(site);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.addInitScript(`(() => {
    window.__frameMs = [];
    const d = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
    Object.defineProperty(Worker.prototype, 'onmessage', {
      set(h) {
        d.set.call(this, (ev) => {
          const t0 = performance.now();
          const data = ev.data;
          const t1 = performance.now();
          h.call(this, ev);
          const t2 = performance.now();
          if (data && data.kind === 'frame') setTimeout(() => window.__frameMs.push([t1 - t0, t2 - t1, performance.now() - t2, data.ms]));
        });
      },
      get() { return d.get.call(this); },
    });
  })()`);
  await openViewer(page, server.url);
  await loadLog(page, log);
  const lastSeq = await lastSeqOf(page);
  console.log('states kept after the load', await page.getByTestId('viewer-root').getAttribute('data-states'));
  const byName = new Map<string, number>();
  const rows: Array<{ wall: number; worker: number; other: number }> = [];
  for (const at of seekTargets(lastSeq, n)) {
    const a = threads();
    const wall = await timedSeek(page, at);
    const b = threads();
    let worker = 0;
    let other = 0;
    for (const [k, v] of b) {
      const d = v - (a.get(k) ?? 0);
      if (k.includes('DedicatedWorker')) worker += d;
      else other += d;
      const name = k.slice(k.indexOf(' ') + 1);
      byName.set(name, (byName.get(name) ?? 0) + d);
    }
    rows.push({ wall, worker, other });
  }
  const fm = (await page.evaluate('window.__frameMs')) as number[][];
  const avg = (i: number) => (fm.reduce((p, r) => p + r[i]!, 0) / fm.length).toFixed(1);
  console.log(`page, mean ms a frame: data ${avg(0)}, handler ${avg(1)}, after it ${avg(2)}; the worker's own ms ${avg(3)}`);
  const perThread = [...byName].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${(v / n).toFixed(1)}`);
  console.log(`CPU ms a seek by thread: ${perThread.join(', ')}`);
  const stat = (k: 'wall' | 'worker' | 'other') => {
    const v = rows.map((r) => r[k]).sort((p, q) => p - q);
    return `${k} median ${v[v.length >> 1]!.toFixed(0)} mean ${(v.reduce((p, q) => p + q, 0) / v.length).toFixed(0)} max ${v[v.length - 1]!.toFixed(0)}`;
  };
  console.log(`${n} seeks, ms: ${stat('wall')}; CPU ${stat('worker')}; ${stat('other')}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await browser.close();
  await server.close();
}
