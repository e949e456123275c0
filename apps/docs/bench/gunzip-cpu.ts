/**
 * Gunzip CPU probe (not a test, not part of the bench): decompresses gzip logs with the viewer's gunzipMembers in
 * real Chromium (served from source by Vite, no site build) and reads from /proc the CPU time the renderer spends,
 * so that gzip files (memhp's members, gzip(1)'s one member) and stages compare on a busy machine, where wall times
 * are noise.
 * With --keep, the text also goes through keepBytes (the copy kept for seeks, in memory); with --beside, the whole
 * inflate stage as the viewer runs it: inflateBeside, its worker, the kept copy (in an OPFS file where it can).
 * Linux only. Run: node --import tsx bench/gunzip-cpu.ts <log.gz>... [--runs N] [--keep | --beside [--no-file]]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { gunzipMembers, inflateBeside, keepBytes } from '../viewer/gunzip.js';
import { startViteSource } from '../test/vite-source.js';
import { launchWithProfile } from '../test/chromium.js';
import { browserCpuMs } from './proc-cpu.js';

/** viewer/gunzip.ts as the page imports it. */
interface GunzipModule {
  gunzipMembers: typeof gunzipMembers;
  keepBytes: typeof keepBytes;
  inflateBeside: typeof inflateBeside;
}

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 3);
const logs = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs').map((f) => resolve(f));
const keep = args.includes('--keep');
const beside = args.includes('--beside');
const noFile = args.includes('--no-file');


const vite = await startViteSource();
const browser = await launchWithProfile('memhp-gunzip-');
const { page, profile } = browser;
try {
  await page.goto(vite.url);
  await page.addScriptTag({ type: 'module', content: "import * as g from '/viewer/gunzip.ts'; window.gunzip = g;" });
  await page.waitForFunction(() => 'gunzip' in window);
  // without OPFS the kept copy is a Blob in memory, as on a platform without it
  if (noFile) await page.evaluate(() => Object.defineProperty(navigator.storage, 'getDirectory', { value: undefined }));
  for (const log of logs) {
    for (let i = 0; i < runs; i++) {
      await page.locator('#file').setInputFiles(log);
      const c0 = browserCpuMs(profile);
      const r = await page.evaluate(
        async ([keep, beside]) => {
          const { gunzipMembers, keepBytes, inflateBeside } = (window as unknown as { gunzip: GunzipModule }).gunzip;
          const blob = (document.getElementById('file') as HTMLInputElement).files![0]!;
          const t0 = performance.now();
          let kept: Blob | null = null;
          let text = beside ? inflateBeside(blob, 'x', { index: false, limit: 512 << 20 }, (k) => (kept = k.text))! : blob.stream().pipeThrough(gunzipMembers('x'));
          if (keep && !beside) text = text.pipeThrough(keepBytes(512 << 20, (b) => (kept = b)));
          const reader = text.getReader();
          let bytes = 0;
          let chunks = 0;
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            bytes += value.byteLength;
            chunks++;
          }
          const k = kept as Blob | null;
          return { ms: performance.now() - t0, bytes, chunks, kept: k ? `${k.size} ${k instanceof File ? 'in a file' : 'in a Blob'}` : null };
        },
        [keep, beside] as const,
      );
      const cpu = browserCpuMs(profile) - c0;
      console.log(`${log.split('/').pop()}: ${r.bytes} bytes in ${r.chunks} chunks${keep || beside ? ` (${r.kept} kept)` : ''}, ${r.ms.toFixed(0)} ms wall, browser CPU ${cpu} ms (incl. reading the file), load ${loadavg()[0]!.toFixed(2)}`);
    }
  }
} finally {
  await browser.close();
  await vite.close();
}
