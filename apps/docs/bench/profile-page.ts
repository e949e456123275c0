/**
 * Profiles the viewer page's main thread over random seeks (not a test, not part of the bench): opens a log through
 * the file picker of the built site, records a CPU profile of the page over 20 seeks and prints the self time by
 * function (top 25), and writes the .cpuprofile.
 * Run: node --import tsx bench/profile-page.ts <log> [out.cpuprofile] [--site <dist>]
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/chromium.js';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';
import { lastSeqOf, loadLog, openViewer, seekTargets, timedSeek } from './seek.js';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }
const docsDir = resolve(import.meta.dirname, '..');
const log = process.argv[2]!;
const out = process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : 'page.cpuprofile';
const site = process.argv.includes('--site') ? resolve(process.argv[process.argv.indexOf('--site') + 1]!) : join(docsDir, '.vitepress/dist');
const server = await serveDir(site);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await openViewer(page, server.url);
  await loadLog(page, log);
  const lastSeq = await lastSeqOf(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const ms: number[] = [];
  for (const at of seekTargets(lastSeq, 20)) ms.push(await timedSeek(page, at));
  const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: Profile };
  writeFileSync(out, JSON.stringify(profile));
  console.log('seeks', ms.map((v) => Math.round(v)).join(' '));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}:${f.columnNumber}`;
    self.set(k, (self.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / 20).toFixed(2)} ms/seek  ${k}`);
} finally {
  await browser.close();
  await server.close();
}
