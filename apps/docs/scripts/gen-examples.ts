/**
 * Bundles example logs with the site: runs the memhp CLI (its built bin, the same build users install) on every
 * scenario in examples/scenarios and writes public/examples/<name>.ndjson plus an index the viewer lists. The
 * cloud example is also written gzip-compressed, so the viewer's .ndjson.gz path is exercised by the tests.
 * A scenario whose run writes no log is left out with a warning; a missing CLI build leaves an empty index.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const docsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(docsDir, '../..');
const outDir = join(docsDir, 'public/examples');
const bin = join(repoDir, 'packages/cli/dist/bin.js');
const scenarioDir = join(repoDir, 'examples/scenarios');
const GZIPPED = new Set(['cloud-hot-add-12g']);

export interface ExampleEntry {
  file: string;
  title: string;
  scenario: string;
  events: number;
  exitCode: number;
}

function scenarioTitle(text: string, fallback: string): string {
  const m = /^name:\s*(.+)$/m.exec(text);
  return m ? m[1]!.trim().replace(/^["']|["']$/g, '') : fallback;
}

function main(): void {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const entries: ExampleEntry[] = [];
  if (!existsSync(bin)) {
    console.warn(`gen-examples: ${bin} not built; the viewer will list no examples (build @memhp/cli first)`);
  } else if (existsSync(scenarioDir)) {
    for (const f of readdirSync(scenarioDir).filter((x) => /\.ya?ml$/.test(x)).sort()) {
      const name = basename(f).replace(/\.ya?ml$/, '');
      const src = join(scenarioDir, f);
      const outs = [`${name}.ndjson`, ...(GZIPPED.has(name) ? [`${name}.ndjson.gz`] : [])];
      for (const out of outs) {
        const r = spawnSync(process.execPath, [bin, 'run', src, '-o', join(outDir, out)], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
        const log = join(outDir, out);
        if (!existsSync(log)) {
          console.warn(`gen-examples: ${f}: no log written (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}`);
          continue;
        }
        const events = out.endsWith('.gz') ? entries.find((e) => e.file === `${name}.ndjson`)?.events ?? 0 : readFileSync(log, 'utf8').split('\n').filter(Boolean).length - 1;
        const title = scenarioTitle(readFileSync(src, 'utf8'), name) + (out.endsWith('.gz') ? ' (gzip)' : '');
        entries.push({ file: out, title, scenario: `examples/scenarios/${f}`, events, exitCode: r.status ?? -1 });
      }
    }
  }
  // The cloud example first: it is the README's example and the one the browser test opens by default.
  entries.sort((a, b) => Number(b.file.startsWith('cloud')) - Number(a.file.startsWith('cloud')) || a.file.localeCompare(b.file));
  writeFileSync(join(outDir, 'index.json'), JSON.stringify(entries, null, 2) + '\n');
  console.log(`gen-examples: ${entries.length} example logs (${entries.map((e) => `${e.file}: ${e.events} events`).join(', ')})`);
}

main();
