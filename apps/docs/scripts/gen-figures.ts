/**
 * Figures made from real runs, at every site build (after gen-examples, whose logs they read), into
 * public/figures/*.svg:
 *   - memory-map-cloud.svg: the cloud example's sections after the run (boot, hot-added with the memmap in RAM,
 *     hot-added with memmap_on_memory) and, under it, how each section's memmap is mapped (PMD leaf from boot
 *     memory, from the page allocator, from the altmap, or base pages after a failed PMD allocation);
 *   - hot-add-chain.svg: the kernel steps of one hot-add, in the order the log of the memmap_on_memory example
 *     recorded them;
 *   - memmap-overhead.svg: the memmap of one x86-64 block by block size and struct page size, and whether the block
 *     can host it itself (memmap_on_memory) on 5.10, 6.1 and 6.8 — from `memhp check --json`;
 *   - block-states.svg: the memory block state machine, each transition with the result the model returned for it
 *     in a probe run (an online of an online block, a removal of an online block, a vetoed online …).
 * Each SVG is 680 units wide with 12–13 unit text, so it reads at the site's column width.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const outDir = join(docsDir, 'public/figures');
const examplesDir = join(docsDir, 'public/examples');
const bin = join(repoDir, 'packages/cli/dist/bin.js');
const W = 680;
const FONT = `font-family="system-ui, sans-serif"`;

interface Ev {
  seq: number;
  op: number;
  type: string;
  payload: Record<string, unknown>;
}

function readLog(file: string): Ev[] {
  return readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as Ev);
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const svg = (h: number, body: string, title: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${esc(title)}" ${FONT} font-size="12">\n<title>${esc(title)}</title>\n<rect width="${W}" height="${h}" fill="#fff"/>\n${body}</svg>\n`;

function legend(items: Array<[string, string]>, y: number): string {
  let x = 10;
  let out = '';
  for (const [color, label] of items) {
    out += `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color}" stroke="#555" stroke-width="0.5"/><text x="${x + 16}" y="${y}">${esc(label)}</text>\n`;
    x += 16 + label.length * 6.6 + 14;
  }
  return out;
}

/** The cloud example: one cell per section, coloured by what the run made of it, and a second strip for its memmap. */
function memoryMap(): string | null {
  const log = join(examplesDir, 'cloud-hot-add-12g.ndjson');
  if (!existsSync(log)) return null;
  const events = readLog(log);
  const header = JSON.parse(readFileSync(log, 'utf8').split('\n', 1)[0]!) as { machine: { constants: { vmemmapBase: string; sectionSizeBits: number; pageShift: number }; config: { structPageBytes: number } } };
  const c = header.machine.constants;
  const sectionMemmap = 2 ** (c.sectionSizeBits - c.pageShift) * header.machine.config.structPageBytes;
  const base = BigInt(c.vmemmapBase);
  const kind = new Map<number, string>(); // section → boot | ram | mom
  const map = new Map<number, string>(); // section → boot | buddy | altmap | fallback
  const momOps = new Set<number>();
  for (const e of events) {
    if (e.type === 'command.begin' && JSON.stringify(e.payload).includes('memmap_on_memory')) momOps.add(e.op);
    if (e.type === 'section.mark_present') kind.set(Number(e.payload.section), e.payload.boot ? 'boot' : momOps.has(e.op) ? 'mom' : 'ram');
    if (e.type === 'vmemmap.populate') {
      const sec = Number((BigInt(String(e.payload.start)) - base) / BigInt(sectionMemmap));
      map.set(sec, e.payload.fallback ? 'fallback' : String(e.payload.source));
    }
  }
  const n = Math.max(...kind.keys()) + 1;
  const cell = (W - 20) / n;
  const colors: Record<string, string> = { boot: '#9db4d0', ram: '#e6a96b', mom: '#7cbf7c', buddy: '#e6a96b', altmap: '#7cbf7c', fallback: '#d65f5f', none: '#eee' };
  let body = `<text x="10" y="18" font-size="13" font-weight="600">cloud-hot-add-12g: ${n} sections of 128 MiB after the run (one cell each)</text>\n`;
  body += `<text x="10" y="40">sections</text>\n`;
  for (let s = 0; s < n; s++) body += `<rect x="${(10 + s * cell).toFixed(2)}" y="46" width="${cell.toFixed(2)}" height="26" fill="${colors[kind.get(s) ?? 'none']}"/>\n`;
  body += `<text x="10" y="92">their memmap (vmemmap)</text>\n`;
  for (let s = 0; s < n; s++) body += `<rect x="${(10 + s * cell).toFixed(2)}" y="98" width="${cell.toFixed(2)}" height="26" fill="${colors[map.get(s) ?? 'none']}"/>\n`;
  for (let g = 0; g <= n / 8; g += 4) {
    const x = 10 + g * 8 * cell;
    body += `<line x1="${x}" y1="126" x2="${x}" y2="132" stroke="#333"/><text x="${x}" y="145" text-anchor="middle">${g} GiB</text>\n`;
  }
  body += `<text x="10" y="170" font-weight="600">sections:</text>` + legend([['#9db4d0', 'boot'], ['#e6a96b', 'hot-added, memmap in RAM'], ['#7cbf7c', 'hot-added, memmap_on_memory']].map(([c, l]) => [c!, l!] as [string, string]), 170).replace(/x="(\d+(?:\.\d+)?)"/g, (_m, x: string) => `x="${Number(x) + 70}"`);
  body += `<text x="10" y="192" font-weight="600">memmap:</text>` + legend([['#9db4d0', 'PMD leaf, boot'], ['#e6a96b', 'PMD leaf, page allocator'], ['#7cbf7c', 'PMD leaf, altmap']], 192).replace(/x="(\d+(?:\.\d+)?)"/g, (_m, x: string) => `x="${Number(x) + 70}"`);
  body += legend([['#d65f5f', 'base pages: the PMD allocation failed']], 214).replace(/x="(\d+(?:\.\d+)?)"/g, (_m, x: string) => `x="${Number(x) + 70}"`);
  const count = (v: string) => [...map.values()].filter((x) => x === v).length;
  body += `<text x="10" y="240">${count('boot')} leaves from boot memory, ${count('buddy')} from the page allocator (only 32 free 2 MiB blocks were left),</text>\n`;
  body += `<text x="10" y="256">${count('fallback')} sections on base pages instead, ${count('altmap')} leaves from the blocks' own altmaps.</text>\n`;
  return svg(266, body, 'Sections of the cloud example and how their memmap is mapped');
}

const STEP: Record<string, string> = {
  'command.begin': 'add_memory(): the request',
  'resource.request': 'register_memory_resource(): "System RAM" in iomem',
  'altmap.create': 'add_memory_resource(): altmap for memmap_on_memory',
  'linear_map.add': 'arch_add_memory(): direct map of the range',
  'section.root_alloc': 'sparse_index_init(): section root',
  'section.usage_alloc': 'section_activate(): mem_section_usage',
  'subsection.fill': 'fill_subsection_map(): sub-section bits',
  'altmap.alloc': 'altmap_alloc_block_buf(): memmap from the altmap',
  'vmemmap.pgtable_alloc': 'vmemmap page-table page',
  'vmemmap.populate': 'vmemmap_populate(): map the memmap',
  'section.mark_present': 'sparse_add_section(): SECTION_MARKED_PRESENT',
  'section.set_memmap': 'sparse_add_section(): memmap pointer, HAS_MEM_MAP',
  'memory_block.create': 'create_memory_block_devices(): memoryN, offline',
  'node.link': 'link the block to its node in sysfs',
  'command.end': 'result: 0',
};

/** The kernel steps of the first hot-add of the memmap_on_memory example, in recorded order. */
function hotAddChain(): string | null {
  const log = join(examplesDir, '000-memmap-on-memory.ndjson');
  if (!existsSync(log)) return null;
  const events = readLog(log).filter((e) => e.op === 1);
  const steps: Array<[string, number]> = [];
  for (const e of events) {
    const last = steps.at(-1);
    if (last && last[0] === e.type) last[1]++;
    else steps.push([e.type, 1]);
  }
  const rowH = 30;
  let body = `<text x="10" y="18" font-size="13" font-weight="600">One hot-add (128 MiB, memmap_on_memory, kernel 6.1) as the log records it</text>\n`;
  steps.forEach(([type, n], i) => {
    const y = 32 + i * rowH;
    body += `<rect x="10" y="${y}" width="${W - 20}" height="${rowH - 8}" rx="4" fill="#f3f6fa" stroke="#9db4d0"/>\n`;
    body += `<text x="20" y="${y + 15}" font-family="ui-monospace, monospace">${esc(type)}${n > 1 ? ` ×${n}` : ''}</text>\n`;
    body += `<text x="250" y="${y + 15}">${esc(STEP[type] ?? '')}</text>\n`;
    if (i < steps.length - 1) body += `<line x1="30" y1="${y + rowH - 8}" x2="30" y2="${y + rowH}" stroke="#555"/>\n`;
  });
  return svg(40 + steps.length * rowH, body, 'The kernel steps of one hot-add');
}

interface CheckRow {
  supported: boolean;
  kernel: string;
  vmemmapBytes: number;
}

function memhp(args: string[], cwd = repoDir): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout };
}

/** memmap per block and whether the block can host it, by block size × struct page size × kernel. */
function overhead(): string {
  const sizes = ['128M', '256M', '512M', '1G', '2G'];
  const structs = [56, 64, 72, 80];
  const kernels = ['5.10', '6.1', '6.8'];
  const colW = (W - 150) / sizes.length;
  let body = `<text x="10" y="18" font-size="13" font-weight="600">x86-64, 4 KiB pages: memmap of one block, and whether the block can host it</text>\n`;
  sizes.forEach((s, i) => (body += `<text x="${150 + i * colW + colW / 2}" y="40" text-anchor="middle" font-weight="600">${s} block</text>\n`));
  structs.forEach((sp, r) => {
    const y = 50 + r * 56;
    body += `<text x="10" y="${y + 22}">struct page ${sp} B</text>\n`;
    sizes.forEach((size, i) => {
      const out = memhp(['check', 'memmap-on-memory', '--arch', 'x86_64', '--block-size', size, '--struct-page', String(sp), '--kernel', 'all', '--json']);
      const rows = (JSON.parse(out.stdout) as { rows: CheckRow[] }).rows;
      // Rows are the versions where the answer changes: the one for k is the last row at or below k.
      const at = (k: string) => rows.filter((x) => ver(x.kernel) <= ver(k)).at(-1);
      const x = 150 + i * colW;
      const mib = (at('6.1')?.vmemmapBytes ?? 0) / 2 ** 20;
      body += `<rect x="${x + 4}" y="${y}" width="${colW - 8}" height="48" rx="4" fill="#f7f7f7" stroke="#ccc"/>\n`;
      body += `<text x="${x + colW / 2}" y="${y + 17}" text-anchor="middle">${mib.toFixed(mib < 10 ? 2 : 1)} MiB</text>\n`;
      kernels.forEach((k, j) => {
        const ok = at(k)?.supported;
        body += `<text x="${x + 8 + j * ((colW - 12) / 3)}" y="${y + 37}" font-size="11" fill="${ok ? '#2e7d32' : '#c62828'}">${k}${ok ? '✓' : '✗'}</text>\n`;
      });
    });
  });
  body += `<text x="10" y="${50 + structs.length * 56 + 14}">✓ the block can host its own memmap (memmap_on_memory) on that kernel; ✗ it cannot</text>\n`;
  body += `<text x="10" y="${50 + structs.length * 56 + 30}">(5.10: the feature does not exist yet; from 6.6 an unsupported request takes the memmap from RAM instead)</text>\n`;
  return svg(50 + structs.length * 56 + 40, body, 'memmap per block and memmap_on_memory support by block size, struct page size and kernel');
}

const ver = (s: string) => s.split('.').map(Number).reduce((a, b) => a * 100 + b, 0);

/** Probe run: every transition of a memory block, with the result the model returns for it. */
function blockStates(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-fig-'));
  try {
    const yaml = `memhp: 1
name: block state probe
machine: { arch: x86_64, pageSize: 4K, structPageSize: 64, kernel: "6.1", cmdline: "memhp_default_state=offline", nodes: [{ id: 0, memory: [{ start: 0, size: 2G }] }] }
faults: { seed: 1, sites: { "notifier:MEM_GOING_ONLINE": { nth: [1] }, "offline:unmovable": { nth: [1] } } }
steps:
  - add_memory: { node: 0, start: 4G, size: 128M }
  - online: { blocks: 32 }
  - online: { blocks: 32 }
  - online: { blocks: 32 }
  - remove_memory: { start: 4G, size: 128M }
  - offline: { blocks: 32 }
  - offline: { blocks: 32 }
  - offline: { blocks: 32 }
  - remove_memory: { start: 4G, size: 128M }
`;
    writeFileSync(join(dir, 'probe.yaml'), yaml);
    const out = memhp(['run', join(dir, 'probe.yaml'), '--json']);
    const steps = (JSON.parse(out.stdout) as { steps: Array<{ result: string }> }).steps.map((s) => s.result);
    const r = (i: number) => (steps[i] === 'ok' || steps[i] === '0' ? 'ok' : `-${String(steps[i]).replace(/^-/, '')}`);
    const node = (x: number, y: number, label: string) =>
      `<rect x="${x - 70}" y="${y - 20}" width="140" height="40" rx="20" fill="#f3f6fa" stroke="#555"/><text x="${x}" y="${y + 5}" text-anchor="middle" font-weight="600">${label}</text>\n`;
    const arrow = (x1: number, y1: number, x2: number, y2: number, label: string, lx: number, ly: number, anchor = 'middle') =>
      `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#333" marker-end="url(#a)"/><text x="${lx}" y="${ly}" text-anchor="${anchor}">${esc(label)}</text>\n`;
    let body = `<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>\n`;
    body += `<text x="10" y="18" font-size="13" font-weight="600">A memory block's states, with the results of a probe run on kernel 6.1</text>\n`;
    body += node(90, 90, '(absent)') + node(340, 90, 'offline') + node(590, 90, 'online') + node(465, 210, 'going-offline');
    body += arrow(160, 84, 268, 84, `add_memory: ${r(0)}`, 214, 76);
    body += arrow(268, 98, 160, 98, `remove_memory: ${r(8)}`, 214, 116);
    body += arrow(410, 84, 518, 84, `online: ${r(2)}`, 464, 76);
    body += `<text x="335" y="160" text-anchor="end">first online, vetoed by a notifier: ${r(1)}, stays offline</text>\n`;
    body += arrow(575, 110, 500, 190, `offline`, 548, 190, 'start');
    body += arrow(430, 190, 355, 110, `done: ${r(6)}`, 378, 190, 'end');
    body += `<text x="465" y="252" text-anchor="middle">unmovable page: ${r(5)} → back to online</text>\n`;
    body += `<text x="590" y="140" text-anchor="middle">online again: ${r(3)}</text>\n`;
    body += `<text x="335" y="140" text-anchor="end">remove while online: ${r(4)}</text>\n`;
    body += `<text x="10" y="282">offline of an offline block: ${r(7)} · sysfs shows online, going-offline and offline</text>\n`;
    return svg(296, body, "A memory block's state machine with the errors each transition returns");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(bin)) {
    console.warn(`gen-figures: ${bin} not built; no figures (build @memhp/cli first)`);
    return;
  }
  const figs: Array<[string, () => string | null]> = [
    ['memory-map-cloud.svg', memoryMap],
    ['hot-add-chain.svg', hotAddChain],
    ['memmap-overhead.svg', overhead],
    ['block-states.svg', blockStates],
  ];
  const made: string[] = [];
  for (const [name, make] of figs) {
    const text = make();
    if (!text) {
      console.warn(`gen-figures: ${name}: its example log is missing (run gen-examples first)`);
      continue;
    }
    writeFileSync(join(outDir, name), text);
    made.push(name);
  }
  console.log(`gen-figures: ${made.join(', ')}`);
}

main();
