/**
 * Issue 18's fuzzing harness: fast-check draws hostile scenarios (mutated examples, raw text damage, absurd values,
 * aliases), kernel command lines, CLI argument lists and damaged snapshot trees; one child process runs them all
 * through the real main() and reports after each case. The properties: no exit 70 (or any code but 0, 1, 2), no
 * stack trace, no case longer than the watchdog allows, RSS under a bound, and no file created or changed outside
 * the output directory (nor in TMPDIR). Cases are drawn with a fixed seed so a failure names a reproducible case;
 * MEMHP_FUZZ_SEED and MEMHP_FUZZ_SCALE vary them. Cost in the default suite: about 300 cases, 1–3 minutes here.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FIXTURES, REPO, hasStack, tmp } from './helpers.js';

/** tsx by path: the cases run in a temporary working directory, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const SEED = Number(process.env.MEMHP_FUZZ_SEED ?? 18);
const SCALE = Number(process.env.MEMHP_FUZZ_SCALE ?? 1);
/** No case may run longer than this (a hang); the whole batch has its own bound. */
const CASE_MS = 45_000;
/** RSS of the runner after any case (a tiny input must not cost gigabytes). */
const RSS_BOUND = 1536 << 20;

const EXAMPLES = join(REPO, 'examples/scenarios');
const exampleTexts = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => readFileSync(join(EXAMPLES, f), 'utf8'));

const hostileValue = fc.oneof(
  fc.constantFrom<unknown>('1E', '1P', '0', '-1', '0x', '0xffffffffffffffffffff', '3M', '1K', 1e300, -5, 2 ** 53, 0, 1, '', ' ', 'x\ny: 1', '__proto__', 'constructor', null, true, [], {}, '0-16777216', '0-9007199254740991', '4294967295', 'online_movable', '6.1', 6.1, '∞', '\u0000'),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.bigInt({ min: 0n, max: 1n << 70n }).map((b) => `0x${b.toString(16)}`),
);

/** Every path to a leaf or node of a parsed scenario. */
function paths(v: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function setAt(root: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  Object.defineProperty(o, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const cmdlineWord = fc.oneof(
  fc.constantFrom('memhp_default_state=', 'memory_hotplug.memmap_on_memory=', 'memory_hotplug.online_policy=', 'memory_hotplug.auto_movable_ratio=', 'hugepagesz=', 'hugepages=', 'default_hugepagesz=', 'hugetlb_free_vmemmap=', 'movable_node', 'kernelcore=', 'memory_hotplug.', '--', 'foo=').chain((k) =>
    fc.constantFrom('', 'sideways', 'force', '1', '0', 'on', '1G', '2M', '-1', '99999999999999999999', 'online_movable', 'auto-movable', '"quoted', '1E').map((v) => (k.endsWith('=') ? `${k}${v}` : k)),
  ),
  fc.string({ maxLength: 10 }),
);

/** A scenario case: an example with a value replaced, its command line replaced, its text damaged, or an alias bomb. */
const scenarioText = fc.oneof(
  fc.tuple(fc.constantFrom(...exampleTexts), fc.nat(), hostileValue).map(([text, n, value]) => {
    const data = parse(text) as unknown;
    const ps = paths(data);
    return stringify(setAt(data, ps[n % ps.length]!, value));
  }),
  fc.tuple(fc.constantFrom(...exampleTexts), fc.array(cmdlineWord, { maxLength: 6 })).map(([text, words]) => {
    const data = parse(text) as { machine: Record<string, unknown> };
    data.machine.cmdline = words.join(' ');
    return stringify(data);
  }),
  fc.tuple(fc.constantFrom(...exampleTexts), fc.nat(), fc.nat(), fc.string({ maxLength: 8 })).map(([text, at, cut, ins]) => {
    const a = at % (text.length + 1);
    return text.slice(0, a) + ins + text.slice(a + (cut % 8));
  }),
  fc.integer({ min: 2, max: 30 }).map((depth) => {
    const lines = ['memhp: 1', 'a0: &a0 [x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < depth; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`);
    return `${lines.join('\n')}\n`;
  }),
);

const OUT = 'out';
/** CLI argument lists from the commands' own vocabulary, with hostile values; outputs only under out/. */
const cliArgs = fc
  .tuple(
    fc.constantFrom(['run', 'in/s0.yaml'], ['check', 'memmap-on-memory'], ['check', 'hvo'], ['plan', 'hot-add'], ['replay', 'in/log.ndjson'], ['export', 'in/log.ndjson'], ['diff', 'in/log.ndjson', 'in/log.ndjson'], ['archs'], ['params'], ['events'], ['info'], ['bogus']),
    fc.array(
      fc.tuple(
        fc.constantFrom('--size', '--free', '--block-size', '--boot-ram-end', '--start', '--page-size', '--struct-page', '--kernel', '--arch', '--feature', '--param', '--sysctl', '--report', '--at', '--format', '--seed', '--hugepage-size', '--online-type', '--json', '--strict', '--debug', '-o'),
        fc.oneof(hostileValue.map(String), fc.constantFrom('all', 'arm64', 'x86_64', '64K', '12G', 'timeline', 'csv', 'chrome-trace', `${OUT}/o.ndjson`, `${OUT}/o.ndjson.gz`, 'in/s0.yaml', 'in/log.ndjson', '/dev/full', OUT)),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([cmd, opts]) => [...cmd, ...opts.flatMap(([o, v]) => (o === '--json' || o === '--strict' || o === '--debug' ? [o] : [o, v]))])
  // The only writes allowed: under out/ (and /dev/full, which is no file).
  .map((argv) => argv.map((a, i) => (argv[i - 1] === '-o' && a !== '/dev/full' && !a.startsWith(`${OUT}/`) ? `${OUT}/o${i}` : a)));

/** A damaged copy of a real snapshot: a file replaced by hostile text, a symlink out, a directory, or removed. */
const SNAP_FILES = ['proc/iomem', 'proc/zoneinfo', 'proc/vmstat', 'proc/meminfo', 'proc/cmdline', 'proc/cpuinfo', 'proc/sys/kernel/osrelease', 'sys/devices/system/memory/block_size_bytes', 'sys/devices/system/memory/auto_online_blocks'];
const snapshotDamage = fc.record({
  file: fc.constantFrom(...SNAP_FILES),
  how: fc.constantFrom('text', 'symlink-out', 'symlink-zero', 'dir', 'remove', 'fifo'),
  text: fc.oneof(hostileValue.map(String), fc.constantFrom('0', '1', 'ffffffffffffffff', 'Node 0, zone ../../x\n  present 99999999999999999999', '0-ffffffffffffffff : System RAM', '10000000-1fffffff : System RAM (kmem)\n', 'x\nsteps: []')),
});

function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(relative(root, p), createHash('sha1').update(readFileSync(p)).digest('hex'));
      else out.set(relative(root, p), e.isSymbolicLink() ? 'link' : 'special');
    }
  };
  walk(root);
  return out;
}

interface Report {
  i: number;
  code: number;
  stderr: string;
  rss: number;
}

async function runCases(work: string, cases: Array<{ argv: string[] }>, tmpdir: string): Promise<{ reports: Report[]; exit: number | null; signal: string | null; hung: number | null }> {
  const file = join(work, '..', 'cases.json');
  writeFileSync(file, JSON.stringify(cases));
  const child = spawn(process.execPath, ['--max-old-space-size=1536', '--conditions=@memhp/source', '--import', TSX, join(REPO, 'packages/cli/test/fixtures/fuzz/runner.ts'), file], {
    cwd: work,
    env: { ...process.env, NO_COLOR: '1', TMPDIR: tmpdir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reports: Report[] = [];
  let buf = '';
  let last = Date.now();
  let hung: number | null = null;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('{"i"')) {
        reports.push(JSON.parse(line) as Report);
        last = Date.now();
      }
    }
  });
  child.stderr.resume();
  const watchdog = setInterval(() => {
    if (Date.now() - last > CASE_MS) {
      hung = reports.length;
      child.kill('SIGKILL');
    }
  }, 1000);
  const [exit, signal] = await new Promise<[number | null, string | null]>((res) => child.on('close', (c, s) => res([c, s])));
  clearInterval(watchdog);
  return { reports, exit, signal, hung };
}

describe('fuzzing the CLI with hostile input', () => {
  it('never exits 70, never prints a stack, never hangs, stays under the RSS bound, and writes only its outputs', async () => {
    const base = tmp();
    const work = join(base, 'work');
    const tmpdir = join(base, 'tmpdir');
    mkdirSync(join(work, 'in'), { recursive: true });
    mkdirSync(join(work, OUT));
    mkdirSync(tmpdir);
    writeFileSync(join(work, 'in/s0.yaml'), exampleTexts[0]!);
    // A real log for the log-reading commands, recorded by the CLI itself.
    execFileSync(process.execPath, ['--conditions=@memhp/source', '--import', TSX, join(REPO, 'packages/cli/src/bin.ts'), 'run', 'in/s0.yaml', '-o', 'in/log.ndjson'], { cwd: work, stdio: 'ignore' });

    const scenarios = fc.sample(scenarioText, { seed: SEED, numRuns: Math.round(150 * SCALE) });
    const argvs = fc.sample(cliArgs, { seed: SEED + 1, numRuns: Math.round(100 * SCALE) });
    const damages = fc.sample(snapshotDamage, { seed: SEED + 2, numRuns: Math.round(40 * SCALE) });
    const cases: Array<{ argv: string[]; what: string }> = [];
    scenarios.forEach((text, i) => {
      writeFileSync(join(work, 'in', `f${i}.yaml`), text);
      cases.push({ argv: ['run', `in/f${i}.yaml`, ...(i % 5 === 0 ? ['-o', `${OUT}/f${i}.ndjson${i % 10 === 0 ? '.gz' : ''}`] : []), ...(i % 7 === 0 ? ['--strict'] : [])], what: `scenario:\n${text.slice(0, 600)}` });
    });
    for (const argv of argvs) cases.push({ argv, what: `argv ${JSON.stringify(argv)}` });
    damages.forEach((d, i) => {
      const root = join(work, 'in', `snap${i}`);
      cpSync(join(FIXTURES, 'arm64-small'), root, { recursive: true });
      const f = join(root, d.file);
      rmSync(f, { recursive: true, force: true });
      if (d.how === 'text') writeFileSync(f, d.text);
      else if (d.how === 'symlink-out') symlinkSync('/etc/passwd', f);
      else if (d.how === 'symlink-zero') symlinkSync('/dev/zero', f);
      else if (d.how === 'dir') mkdirSync(f);
      else if (d.how === 'fifo') execFileSync('mkfifo', [f]);
      cases.push({ argv: ['import', '--root', `in/snap${i}`, '-o', `${OUT}/snap${i}.yaml`], what: `snapshot ${JSON.stringify(d)}` });
    });

    const before = tree(join(work, 'in'));
    const { reports, exit, signal, hung } = await runCases(work, cases.map((c) => ({ argv: c.argv })), tmpdir);
    if (hung !== null) throw new Error(`case ${hung} ran longer than ${CASE_MS} ms: ${cases[hung]!.what}`);
    const done = reports.length;
    expect(done, `the runner ended (${exit ?? signal}) after case ${done}: ${cases[done]?.what}`).toBe(cases.length);
    for (const r of reports) {
      const c = cases[r.i]!;
      expect([0, 1, 2], `exit ${r.code} for ${c.what}\n${r.stderr}`).toContain(r.code);
      expect(r.stderr, c.what).not.toMatch(/internal error/);
      expect(hasStack(r.stderr), `${c.what}\n${r.stderr}`).toBe(false);
      expect(r.rss, `RSS after ${c.what}`).toBeLessThan(RSS_BOUND);
    }
    // Every exit code was seen: the cases reach the simulator, not only the parser.
    expect(new Set(reports.map((r) => r.code))).toEqual(new Set([0, 1, 2]));
    // Inputs untouched (snapshot FIFOs excepted: read by nobody), nothing written beside them, nothing in TMPDIR.
    const after = tree(join(work, 'in'));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(after.get(k), k).toBe(v);
    expect(readdirSync(work).sort()).toEqual(['in', OUT]);
    expect(readdirSync(join(work, OUT)).filter((f) => f.startsWith('.memhp-tmp-') || f.endsWith('.lock'))).toEqual([]);
    expect(readdirSync(tmpdir).filter((f) => !f.startsWith('tsx-'))).toEqual([]);
    for (const f of readdirSync(join(work, OUT))) expect(statSync(join(work, OUT, f)).isFile() || statSync(join(work, OUT, f)).isDirectory()).toBe(true);
  }, 900_000);
});
