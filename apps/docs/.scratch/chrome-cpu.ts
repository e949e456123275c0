// runs page functions (named in a file that defines window.fns = {name: async () => ...}) and reports the CPU time
// of the whole Chromium process tree for each, alternating, R rounds
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';
const dir = resolve(process.argv[2]!);
const code = readFileSync(process.argv[3]!, 'utf8');
const rounds = Number(process.argv[4] ?? 3);
const server = await serveDir(dir);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const root = process.pid;
function tree(): number[] {
  const kids = new Map<number, number[]>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try { const st = readFileSync(`/proc/${p}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); const pp = Number(f[1]); (kids.get(pp) ?? kids.set(pp, []).get(pp)!).push(Number(p)); } catch { /* gone */ }
  }
  const out: number[] = []; const st = [root]; while (st.length) { const x = st.pop()!; out.push(x); st.push(...(kids.get(x) ?? [])); } return out;
}
function cpu(): number {
  let t = 0;
  for (const p of tree()) { try { const s = readFileSync(`/proc/${p}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); t += Number(f[11]) + Number(f[12]); } catch { /* gone */ } }
  return t * 10; // ms (100 Hz)
}
const page = await browser.newPage();
await page.goto(`${server.url}/`);
await page.evaluate(code);
await page.evaluate('window.setup()');
const names = (await page.evaluate('Object.keys(window.fns)')) as string[];
const res: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) for (const n of names) {
  const c0 = cpu(); const t0 = Date.now();
  const v = await page.evaluate(`window.fns[${JSON.stringify(n)}]()`);
  (res[n] ??= []).push(cpu() - c0);
  if (r === 0) console.log(n, 'result', v, 'wall', Date.now() - t0);
}
console.log(JSON.stringify(res));
await browser.close(); await server.close();
