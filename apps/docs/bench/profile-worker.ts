/**
 * Profiles the viewer's replay worker in real Chromium (not a test, not part of the bench): opens a log through the
 * file picker of the built site, records a CPU profile of the worker over the load (or, with SEEKS=1, over 20 random
 * seeks after it) and writes it as a .cpuprofile (Chrome DevTools / speedscope open it). The worker is reached
 * through a CDP session of the page: Target.setAutoAttach (not flattened), then Profiler.* sent into the worker.
 * Build the site first (pnpm exec turbo run build --filter=@memhp/docs).
 * Run: node --import tsx bench/profile-worker.ts <log> [out.cpuprofile]
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/chromium.js';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';
import { lastSeqOf, loadLog, openViewer, timedSeek } from './seek.js';
const docsDir = resolve(import.meta.dirname, '..');
const log = process.argv[2]!;
const out = process.argv[3] ?? 'worker.cpuprofile';
const server = await serveDir(join(docsDir, '.vitepress/dist'));
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);
const sessions: string[] = [];
let id = 1000;
const pending = new Map<number, (r: Reply) => void>();
interface Reply {
  profile?: unknown;
}
cdp.on('Target.receivedMessageFromTarget', (ev: { sessionId: string; message: string }) => {
  const m = JSON.parse(ev.message) as { id?: number; result?: Reply; error?: Reply };
  if (m.id && pending.has(m.id)) { pending.get(m.id)!(m.result ?? m.error ?? {}); pending.delete(m.id); }
});
const send = (sessionId: string, method: string, params: object = {}) => new Promise<Reply>((res) => { const i = id++; pending.set(i, res); void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: i, method, params }) }); });
cdp.on('Target.attachedToTarget', async (ev: { sessionId: string; targetInfo: { type: string; url: string } }) => {
  console.log('attached', ev.targetInfo.type, ev.targetInfo.url.slice(-40));
  if (ev.targetInfo.type === 'worker' && ev.targetInfo.url.includes('replay')) {
    sessions.push(ev.sessionId);
    await send(ev.sessionId, 'Profiler.enable');
    await send(ev.sessionId, 'Profiler.setSamplingInterval', { interval: 500 });
    if (!process.env.SEEKS) await send(ev.sessionId, 'Profiler.start');
  }
  await send(ev.sessionId, 'Runtime.runIfWaitingForDebugger');
});

await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
await openViewer(page, server.url);
const t0 = Date.now();
await loadLog(page, log);
console.log('load s', (Date.now() - t0) / 1000);
if (process.env.SEEKS) {
  for (const s of sessions) await send(s, 'Profiler.start');
  const lastSeq = await lastSeqOf(page);
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const at = 1 + Math.floor(Math.random() * (lastSeq - 1));
    ms.push(await timedSeek(page, at));
  }
  console.log('seeks', ms.map((x) => Math.round(x)).join(' '));
}
for (const s of sessions) {
  const r = await send(s, 'Profiler.stop');
  writeFileSync(out, JSON.stringify(r.profile));
  console.log(`wrote ${out}`);
}
await browser.close();
await server.close();
