/**
 * Traces the viewer page over random seeks (not a test, not part of the bench): Chromium's own trace
 * (devtools.timeline and the painting categories) over 20 seeks after the load; prints the time by event name
 * and thread (top 30, per seek, self time not subtracted) and writes the trace.
 * Run: node --import tsx bench/trace-page.ts <log> [out.json] [--site <dist>]
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/chromium.js';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';
import { lastSeqOf, loadLog, openViewer, seekTargets, timedSeek } from './seek.js';

interface Ev { name: string; ph: string; dur?: number; tdur?: number; tid: number; pid: number; args?: { name?: string } }
const docsDir = resolve(import.meta.dirname, '..');
const log = process.argv[2]!;
const out = process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : 'page-trace.json';
const site = process.argv.includes('--site') ? resolve(process.argv[process.argv.indexOf('--site') + 1]!) : join(docsDir, '.vitepress/dist');
const server = await serveDir(site);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await openViewer(page, server.url);
  await loadLog(page, log);
  const lastSeq = await lastSeqOf(page);
  await browser.startTracing(page, { path: out, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'cc', 'blink', 'skia', 'gpu', 'v8'] });
  const ms: number[] = [];
  for (const at of seekTargets(lastSeq, 20)) ms.push(await timedSeek(page, at));
  await browser.stopTracing();
  console.log('seeks', ms.map((v) => Math.round(v)).join(' '));
  const trace = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: Ev[] };
  const threads = new Map<string, string>();
  for (const e of trace.traceEvents) if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}/${e.tid}`, e.args?.name ?? '?');
  const by = new Map<string, number>();
  for (const e of trace.traceEvents) {
    if (e.ph !== 'X' || !e.tdur) continue;
    const k = `${threads.get(`${e.pid}/${e.tid}`) ?? e.tid} ${e.name}`;
    by.set(k, (by.get(k) ?? 0) + e.tdur / 1000);
  }
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(v / 20).toFixed(2)} ms/seek  ${k}`);
} finally {
  await browser.close();
  await server.close();
}
