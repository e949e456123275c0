/**
 * `pnpm --filter @memhp/cli bench`: how long `memhp` takes to answer, as whole processes, against `node -e 0`
 * measured in the same run (issue 19). Rounds are interleaved (node, then each command, then node again …) so
 * the machine's load at any moment weighs on all of them alike; the figures are medians over the rounds.
 * The `memhp` launcher (bin/memhp.cjs, which loads the built dist/memhp.cjs) is what runs, as a user's `memhp` does.
 * MEMHP_BENCH_ROUNDS sets the number of rounds (default 11). Figures go to bench-results/cli-startup.json at the repository root.
 *
 * Targets (issue 19): `--version` ≤ 1.6× node's own start; `check` and `plan` ≤ 2×; `replay --report summary`
 * of the example log ≤ 2.5×. `query` is measured too (DuckDB is its cost), without a target.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
// MEMHP_BENCH_BIN: another build of the binary instead of this one. MEMHP_BENCH_BEFORE: an older build (e.g. a copy
// of an earlier commit's dist/bin.js or dist/memhp.cjs, kept inside packages/cli so its dependencies resolve) measured beside this
// one, each of its cases interleaved with the others in the same rounds: a before/after comparison under the same
// load.
const bin = process.env.MEMHP_BENCH_BIN ?? join(here, '..', 'bin', 'memhp.cjs');
if (!existsSync(join(here, '..', 'dist', 'memhp.cjs'))) throw new Error('packages/cli/dist/memhp.cjs is missing: build the CLI first (pnpm --filter @memhp/cli build)');
const beforeBin = process.env.MEMHP_BENCH_BEFORE;
const rounds = Number(process.env.MEMHP_BENCH_ROUNDS ?? 11);
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('MEMHP_BENCH_ROUNDS must be a positive integer');
if (!existsSync(bin)) throw new Error(`${bin} is missing: build the CLI first (pnpm --filter @memhp/cli build)`);
if (beforeBin !== undefined && !existsSync(beforeBin)) throw new Error(`MEMHP_BENCH_BEFORE: ${beforeBin} is missing`);
// GNU time gives each child's own CPU time and peak RSS; without it only wall time is reported.
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly target?: number;
  /** Measured with MEMHP_BENCH_BEFORE's build, for comparison (no target). */
  readonly before?: boolean;
}

interface Sample {
  readonly wallMs: number;
  readonly cpuMs?: number;
  readonly maxRssMiB?: number;
}

const dir = mkdtempSync(join(tmpdir(), 'memhp-startup-'));
const log = join(dir, 'cloud-hot-add-12g.ndjson');

function runOnce(args: readonly string[]): Sample {
  const argv = gnuTime ? ['-f', '@@%U %S %M', process.execPath, ...args] : [...args];
  const t0 = performance.now();
  const r = spawnSync(gnuTime ?? process.execPath, argv, { cwd: root, encoding: 'utf8', maxBuffer: 16 << 20, timeout: 120_000 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  if (!gnuTime) return { wallMs };
  const m = /@@([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no /usr/bin/time figures in: ${r.stderr}`);
  return { wallMs, cpuMs: (Number(m[1]) + Number(m[2])) * 1000, maxRssMiB: Number(m[3]) / 1024 };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The q-quantile by linear interpolation between the closest ranks (the spread printed beside each median). */
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
};

try {
  // The example log of the README's first command (3,925 lines: header and 3,924 events).
  runOnce([bin, 'run', join(root, 'examples/scenarios/cloud-hot-add-12g.yaml'), '-o', log, '--json']);

  const node: Case = { name: 'node -e 0', args: ['-e', '0'] };
  const cases: Case[] = [
    { name: 'memhp --version', args: [bin, '--version'], target: 1.6 },
    { name: 'memhp check memmap-on-memory --kernel 6.1 --json', args: [bin, 'check', 'memmap-on-memory', '--kernel', '6.1', '--json'], target: 2 },
    { name: 'memhp plan hot-add --size 12G --free 256M', args: [bin, 'plan', 'hot-add', '--size', '12G', '--free', '256M'], target: 2 },
    { name: 'memhp replay <example log> --report summary', args: [bin, 'replay', log, '--report', 'summary'], target: 2.5 },
    { name: "memhp query <example log> 'select count(*) from events'", args: [bin, 'query', log, 'select count(*) from events'] },
  ];
  if (beforeBin !== undefined) {
    for (const c of [...cases]) {
      if (c.args[0] !== bin) continue;
      cases.push({ name: `${c.name} (before)`, args: [beforeBin, ...c.args.slice(1)], before: true });
    }
  }
  // One warm-up round (page cache, the OS's own caches), not counted.
  for (const c of [node, ...cases]) runOnce(c.args);
  const samples = new Map<string, Sample[]>([node, ...cases].map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of [node, ...cases]) samples.get(c.name)!.push(runOnce(c.args));
  }
  const summarise = (name: string) => {
    const s = samples.get(name)!;
    const cpu = s.every((x) => x.cpuMs !== undefined) ? median(s.map((x) => x.cpuMs!)) : undefined;
    const rss = s.every((x) => x.maxRssMiB !== undefined) ? median(s.map((x) => x.maxRssMiB!)) : undefined;
    const walls = s.map((x) => x.wallMs);
    return { wallMs: median(walls), wallMsQ1: quantile(walls, 0.25), wallMsQ3: quantile(walls, 0.75), cpuMs: cpu, maxRssMiB: rss, wallMsAll: walls.map(Math.round) };
  };
  const base = summarise(node.name);
  console.log(`cli start-up, ${rounds} interleaved rounds, medians (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  console.log(`  ${node.name.padEnd(67)} ${base.wallMs.toFixed(0).padStart(5)} ms wall [${base.wallMsQ1.toFixed(0)}–${base.wallMsQ3.toFixed(0)}]${base.cpuMs !== undefined ? `, ${base.cpuMs.toFixed(0)} ms cpu, ${base.maxRssMiB!.toFixed(0)} MiB` : ''}`);
  const results = cases.map((c) => {
    const m = summarise(c.name);
    const ratio = m.wallMs / base.wallMs;
    const cpuRatio = m.cpuMs !== undefined && base.cpuMs ? m.cpuMs / base.cpuMs : undefined;
    const meets = c.target === undefined ? undefined : ratio <= c.target;
    console.log(
      `  ${c.name.padEnd(67)} ${m.wallMs.toFixed(0).padStart(5)} ms wall [${m.wallMsQ1.toFixed(0)}–${m.wallMsQ3.toFixed(0)}]  ${ratio.toFixed(2)}× node` +
        (cpuRatio !== undefined ? `  (cpu ${m.cpuMs!.toFixed(0)} ms, ${cpuRatio.toFixed(2)}×; ${m.maxRssMiB!.toFixed(0)} MiB)` : '') +
        (c.target !== undefined ? `  target ≤ ${c.target}× ${meets ? 'met' : 'NOT MET'}` : ''),
    );
    return { name: c.name, ...(c.before ? { bin: beforeBin } : {}), ...m, ratio, cpuRatio, target: c.target, meets };
  });
  const out = {
    bench: 'cli-startup',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg(),
    rounds,
    node_e_0: base,
    results,
  };
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'cli-startup.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('\nwrote bench-results/cli-startup.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
