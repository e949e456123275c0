/**
 * Load CPU probe (not a test, not part of the bench): opens logs in a built viewer in real Chromium, as the viewer
 * bench does (file picker, until the page is ready), and reports the wall time and the CPU time of the whole
 * browser (every process it started, read from /proc), so that two builds or two logs compare on a busy machine,
 * where wall times are noise. Sites and logs are taken in turn, `--runs` rounds. Linux only.
 * Run: node --import tsx bench/load-cpu.ts --site <dist> [--site <dist>] --log <file> [--log <file>] [--runs N]
 */
import { chromium } from 'playwright-core';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';

const args = process.argv.slice(2);
const all = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [resolve(a)] : []));
const sites = all('--site');
const logs = all('--log');
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 2);
const TICK_MS = 10; // USER_HZ 100

/** utime+stime (ms) of every process that descends from the browser started with `profile`. */
function browserCpuMs(profile: string): number {
  const ppid = new Map<number, number>();
  const cpu = new Map<number, number>();
  let root = -1;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ppid.set(+d, Number(f[1]));
      cpu.set(+d, (Number(f[11]) + Number(f[12])) * TICK_MS);
      if (root < 0 && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(profile)) root = +d;
    } catch {
      // gone
    }
  }
  let sum = 0;
  for (const [pid, ms] of cpu) {
    for (let p = pid; p > 1; p = ppid.get(p) ?? 0) {
      if (p === root) {
        sum += ms;
        break;
      }
    }
  }
  return sum;
}

async function loadOnce(site: string, log: string): Promise<{ seconds: number; cpuSeconds: number }> {
  const server = await serveDir(site);
  const profile = mkdtempSync(join(tmpdir(), 'memhp-load-cpu-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${server.url}/viewer.html`);
    await page.waitForSelector('[data-testid="viewer-file"]');
    await new Promise((r) => setTimeout(r, 500));
    const c0 = browserCpuMs(profile);
    const t0 = Date.now();
    await page.getByTestId('viewer-file').setInputFiles(log);
    await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 600_000 });
    return { seconds: (Date.now() - t0) / 1000, cpuSeconds: (browserCpuMs(profile) - c0) / 1000 };
  } finally {
    await ctx.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

for (let round = 0; round < runs; round++) {
  for (const log of logs) {
    for (const site of sites) {
      const r = await loadOnce(site, log);
      console.log(`${site} ${log.split('/').pop()}: load ${r.seconds.toFixed(2)} s wall, browser CPU ${r.cpuSeconds.toFixed(2)} s, load average ${loadavg()[0]!.toFixed(2)}`);
    }
  }
}
