/**
 * The sweep behind guides/sweeping.md: runs `memhp sweep examples/sweeps/hot-add-grid.yaml` with the built CLI
 * (the build users install), then writes the chart (public/sweeps/hot-add-grid.svg) and the results table
 * between the page's `sweep-table` markers, both from the sweep's results.jsonl. Re-run it after a model change:
 *   pnpm --filter @memhp/docs gen:sweep
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const docsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(docsDir, '../..');
const bin = join(repoDir, 'packages/cli/dist/bin.js');
const out = mkdtempSync(join(tmpdir(), 'memhp-docs-sweep-'));
const r = spawnSync(process.execPath, [bin, 'sweep', 'examples/sweeps/hot-add-grid.yaml', '-o', out, '--jobs', '2'], { cwd: repoDir, encoding: 'utf8' });
if (r.status !== 0) throw new Error(`memhp sweep failed (${r.status}): ${r.stderr}`);
type Row = Record<string, string | number | boolean | null>;
const rows: Row[] = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
rmSync(out, { recursive: true, force: true });

const MiB = 1024 * 1024;
const mib = (v: unknown): number => Number(v ?? 0) / MiB;

// Chart: one row per point, the memmap it took from free RAM (buddy) and from the added memory (altmap).
const rowH = 22;
const left = 230;
const width = 760;
const top = 30;
const max = Math.max(...rows.map((x) => mib(x.memmap_bytes_buddy) + mib(x.memmap_bytes_altmap)));
const scale = (width - left - 90) / max;
const bars = rows.map((x, i) => {
  const y = top + i * rowH;
  const ram = mib(x.memmap_bytes_buddy);
  const alt = mib(x.memmap_bytes_altmap);
  const label = `${x.kernel} · ${x.size} · mom=${x.mom}`;
  const what = x.status !== 'ok' ? `-${String(x.step1)}` : `${ram + alt} MiB`;
  return [
    `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${label}</text>`,
    `<rect x="${left}" y="${y + 4}" width="${(ram * scale).toFixed(1)}" height="${rowH - 8}" fill="#d9480f"/>`,
    `<rect x="${(left + ram * scale).toFixed(1)}" y="${y + 4}" width="${(alt * scale).toFixed(1)}" height="${rowH - 8}" fill="#1c7ed6"/>`,
    `<text x="${(left + (ram + alt) * scale + 6).toFixed(1)}" y="${y + 15}">${what}</text>`,
  ].join('');
});
const height = top + rows.length * rowH + 20;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img" aria-label="memmap of a hot-add by kernel, size and memmap_on_memory">
<rect x="${left}" y="6" width="12" height="12" fill="#d9480f"/><text x="${left + 16}" y="16">memmap from free RAM</text>
<rect x="${left + 170}" y="6" width="12" height="12" fill="#1c7ed6"/><text x="${left + 186}" y="16">memmap on the added memory (altmap)</text>
${bars.join('\n')}
</svg>
`;
writeFileSync(join(docsDir, 'public/sweeps/hot-add-grid.svg'), svg);

const head = ['kernel', 'size', 'mom', 'status', 'memmap from RAM (MiB)', 'altmap (MiB)', 'nr_memmap_pages', 'MemTotal (kB)'];
const table = [
  `| ${head.join(' | ')} |`,
  `|${head.map(() => '---').join('|')}|`,
  ...rows.map((x) => `| ${[x.kernel, x.size, x.mom, x.status === 'ok' ? 'ok' : `-${String(x.step1)}`, mib(x.memmap_bytes_buddy), mib(x.memmap_bytes_altmap), x.nr_memmap_pages ?? '', x.MemTotal_kB].join(' | ')} |`),
].join('\n');
const page = join(docsDir, 'guides/sweeping.md');
const text = readFileSync(page, 'utf8');
writeFileSync(page, text.replace(/(<!-- sweep-table:start -->)[\s\S]*?(<!-- sweep-table:end -->)/, `$1\n${table}\n$2`));
console.log(`wrote public/sweeps/hot-add-grid.svg and the table of guides/sweeping.md (${rows.length} points)`);
