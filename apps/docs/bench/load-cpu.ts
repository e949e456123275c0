/**
 * Load CPU probe (not a test, not part of the bench): opens logs in a built viewer in real Chromium, as the viewer
 * bench does (file picker, until the page is ready), and reports the wall time and the CPU time of the whole
 * browser (every process it started, read from /proc), so that two builds or two logs compare on a busy machine,
 * where wall times are noise. Sites and logs are taken in turn, `--runs` rounds. Linux only.
 * Run: node --import tsx bench/load-cpu.ts --site <dist> [--site <dist>] --log <file> [--log <file>] [--runs N]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { serveDir } from '../test/static-server.js';
import { launchWithProfile } from '../test/chromium.js';
import { browserCpuMs, browserThreadCpuMs } from './proc-cpu.js';
import { loadLog, openViewer } from './seek.js';

const args = process.argv.slice(2);
const all = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [resolve(a)] : []));
const sites = all('--site');
const logs = all('--log');
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 2);


async function loadOnce(site: string, log: string): Promise<{ seconds: number; cpuSeconds: number; threads: string; workerSeconds: number }> {
  const server = await serveDir(site);
  const browser = await launchWithProfile('memhp-load-cpu-');
  const { page, profile } = browser;
  try {
    await openViewer(page, server.url);
    await new Promise((r) => setTimeout(r, 500));
    const c0 = browserCpuMs(profile);
    const th0 = browserThreadCpuMs(profile);
    const t0 = Date.now();
    await loadLog(page, log);
    const seconds = (Date.now() - t0) / 1000;
    // the replay worker's own figure: from the file's message to the end of its load (the page shows it)
    const header = (await page.getByTestId('viewer-header').textContent()) ?? '';
    const workerSeconds = Number(/loaded in\s+(\d+) ms/.exec(header)?.[1] ?? NaN) / 1000;
    const cpuSeconds = (browserCpuMs(profile) - c0) / 1000;
    // the threads that worked most over the load (the replay worker's is the load's critical path)
    const busiest = [...browserThreadCpuMs(profile)]
      .map(([k, ms]) => [k.split(' ').slice(1).join(' '), (ms - (th0.get(k) ?? 0)) / 1000] as const)
      .filter(([, s]) => s >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14);
    return { seconds, workerSeconds, cpuSeconds, threads: busiest.map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ') };
  } finally {
    await browser.close();
    await server.close();
  }
}

for (let round = 0; round < runs; round++) {
  for (const log of logs) {
    for (const site of sites) {
      const r = await loadOnce(site, log);
      console.log(`${site} ${log.split('/').pop()}: load ${r.seconds.toFixed(2)} s wall (in the worker ${r.workerSeconds.toFixed(2)}), browser CPU ${r.cpuSeconds.toFixed(2)} s (busiest threads: ${r.threads}), load average ${loadavg()[0]!.toFixed(2)}`);
    }
  }
}
