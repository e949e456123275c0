/**
 * Issue 18: hostile and absurd input, a sandboxed query, safe outputs, signals and pipes. Every case uses real
 * files and, where the behaviour is the process's (signals, pipes, exit status), a real `memhp` process.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BIN, FIXTURES, REPO, hasStack, memhp, memhpInProcess, tmp } from './helpers.js';

const MACHINE = 'memhp: 1\nmachine: { arch: x86_64, nodes: [ { id: 0, memory: [ { start: 0, size: 4G } ] } ] }\n';
const dir = tmp();
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A scenario that runs for several seconds: 64 GiB hot-added, then its 512 blocks onlined and offlined `rounds` times. */
function longScenario(rounds: number): string {
  const steps = ['  - add_memory: { node: 0, start: 64G, size: 64G }'];
  for (let i = 0; i < rounds; i++) steps.push('  - online: { blocks: "512-1023" }', '  - offline: { blocks: "512-1023" }');
  return `${MACHINE}steps:\n${steps.join('\n')}\n`;
}

/** memhp as a process we can signal: resolves with its exit status or signal and everything it printed. */
function start(args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const waitFor = async (what: () => boolean, ms: number): Promise<void> => {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
};
const tmpFilesIn = (d: string): string[] => readdirSync(d).filter((f) => f.startsWith('.memhp-tmp-'));

describe('bounded work: what the architecture cannot address is refused, fast, as bad input', () => {
  // x86-64 with 4-level paging: MAX_PHYSMEM_BITS 46 (arch/x86/include/asm/sparsemem.h, apps/docs/kernel/constants.md#per-arch).
  const cases: Array<[string, string, RegExp]> = [
    ['boot RAM of 1E', 'memhp: 1\nmachine: { arch: x86_64, nodes: [ { id: 0, memory: [ { start: 0, size: 1E } ] } ] }\n', /field machine\.nodes\[0\]\.memory\[0\]: ends at 0x1000000000000000, beyond the 2\^46-byte/],
    ['blockSize: 1E', 'memhp: 1\nmachine: { arch: x86_64, blockSize: 1E, nodes: [ { id: 0, memory: [ { start: 0, size: 2G } ] } ] }\n', /field machine\.blockSize: 0x1000000000000000 is larger than the physical address space \(2\^46 bytes/],
    ['a 400-byte block list spanning 16M blocks forty times', `${MACHINE}steps:\n  - online: { blocks: "${Array(40).fill('0-16777216').join(',')}" }\n`, /memory16777216 cannot exist: x86_64 with 128 MiB blocks has at most memory0-memory524287/],
    ['an expect over blocks no machine has', `${MACHINE}steps:\n  - expect: { blocks: { "0-9007199254740990": { exists: false } } }\n`, /cannot exist/],
  ];
  for (const [what, text, msg] of cases) {
    it(`refuses ${what} with exit 2 and the place, in seconds`, async () => {
      const t0 = Date.now();
      const r = await memhpInProcess(['run', file(`bounded-${what.length}.yaml`, text)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });
  }

  it('refuses a virtio-mem region of 1P beyond PHYSMEM_END with -EINVAL at once (virtio_mem_init), not a per-block walk', async () => {
    const t0 = Date.now();
    const r = await memhpInProcess(['run', file('vm1p.yaml', `${MACHINE}steps:\n  - virtio_mem: { id: vm0, node: 0, region: 1P, requested: 1P }\n`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-EINVAL .*the device memory 0x100000000-0x40000ffffffff is not addressable \(PHYSMEM_END 0x3fffffffffff\)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('reads at most 4 MiB of a scenario, even from /dev/zero', async () => {
    const r = await memhpInProcess(['run', '/dev/zero']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\/dev\/zero: has more than 4194304 bytes/);
    const big = file('big.yaml', `${MACHINE}# ${'x'.repeat(5 << 20)}\n`);
    expect((await memhpInProcess(['run', big])).stderr).toMatch(/big\.yaml: is \d+ bytes; a scenario may have at most 4194304/);
  });

  it('reports a YAML alias bomb as bad input with its line, and reads a legitimate file with 150 aliases', async () => {
    const bomb = ['memhp: 1', 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) bomb.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`);
    const r = await memhpInProcess(['run', file('bomb.yaml', `${bomb.join('\n')}\n`)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/bomb\.yaml:3:\d+: YAML: the aliases expand to more than 1000 nodes/);
    const steps = ['  - &e { expect: { meminfo: { MemTotal: "+0 kB" } } }', ...Array.from({ length: 150 }, () => '  - *e')];
    const ok = await memhpInProcess(['run', file('aliases.yaml', `${MACHINE}steps:\n${steps.join('\n')}\n`)]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('gives run, check and plan the same answer for the same bad block size (exit 2, the same words)', async () => {
    const run = await memhpInProcess(['run', file('bs3m.yaml', 'memhp: 1\nmachine: { arch: x86_64, blockSize: 3M, nodes: [ { id: 0, memory: [ { start: 0, size: 2G } ] } ] }\n')]);
    const check = await memhpInProcess(['check', 'memmap-on-memory', '--block-size', '3M']);
    const plan = await memhpInProcess(['plan', 'hot-add', '--size', '12G', '--block-size', '3M']);
    // drivers/base/memory.c memory_dev_init: the block size is a power of two of at least one section (128 MiB on x86-64).
    const words = 'must be a power of two of at least one section (0x8000000), got 0x300000';
    for (const r of [run, check, plan]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(words);
      expect(hasStack(r.stderr)).toBe(false);
    }
    expect(run.stderr).toMatch(/bs3m\.yaml:2:\d+: field machine\.blockSize/);
    expect(plan.stderr).toMatch(/field --block-size/);
  });
});

describe('one error path: an arch module, an output path', () => {
  it('reports a module that throws a non-Error, and one whose backend throws inside plan, as exit 2 without a stack', async () => {
    const nonError = file('throws-string.mjs', 'throw "nope";\n');
    const r1 = await memhpInProcess(['--arch-module', nonError, 'archs']);
    expect(r1.code, r1.stderr).toBe(2);
    expect(r1.stderr).toMatch(/cannot load arch module .*threw "nope"/);
    const x86 = join(REPO, 'packages/arch-x86/src/index.ts');
    const bad = file('bad-backend.mts', `import * as x from ${JSON.stringify(x86)};\nconst b = Object.values(x).find((v) => v && typeof v === 'object' && 'vmemmapPopulate' in v);\nexport default { ...b, id: 'brokenarch', aliases: [], constants() { throw 42; } };\n`);
    for (const args of [['plan', 'hot-add', '--size', '1G', '--arch', 'brokenarch'], ['check', 'memmap-on-memory', '--arch', 'brokenarch']]) {
      const r = await memhpInProcess(['--arch-module', bad, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/arch module .*constants\(\) failed: threw 42/);
      expect(hasStack(r.stderr)).toBe(false);
    }
  });

  it('does not call a hot-add over boot RAM feasible: plan --start 0 adds nothing (add_memory -EEXIST), exit 1', async () => {
    const r = await memhpInProcess(['plan', 'hot-add', '--size', '1G', '--start', '0']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/not feasible/);
    expect(r.stdout).toMatch(/already in use \(add_memory -EEXIST/);
  });

  it('reports a full disk (-o /dev/full) as exit 2, not an internal error', async () => {
    const r = await memhp(['run', join(REPO, 'examples/scenarios/000-memmap-on-memory.yaml'), '-o', '/dev/full']);
    expect(r.code, r.stderr).toBe(2);
    expect(hasStack(r.stderr)).toBe(false);
    expect(r.stderr).toMatch(/\/dev\/full.*(no space left|ENOSPC)/);
  });
});

describe('nothing silently ignored', () => {
  const cmdline = 'memhp: 1\nmachine: { arch: x86_64, cmdline: "memhp_default_state=sideways", nodes: [ { id: 0, memory: [ { start: 0, size: 4G } ] } ] }\n';

  it('prints a command-line problem as the kernel logs it, records it as kernel.warn, and --strict makes it an error', async () => {
    const log = join(dir, 'warn.ndjson');
    const r = await memhpInProcess(['run', file('warn.yaml', cmdline), '-o', log]);
    expect(r.code, r.stderr).toBe(0);
    // mm/memory_hotplug.c setup_memhp_default_state: an unknown value keeps the default.
    expect(r.stderr).toMatch(/warn\.yaml:2:\d+: field machine\.cmdline: kernel command line: "memhp_default_state=sideways" ignored/);
    const warn = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('{"seq"') && l.includes('"type":"kernel.warn"'));
    expect(warn.length).toBe(1);
    expect(warn[0]).toContain('command line: \\"memhp_default_state=sideways\\" ignored');
    const strict = await memhpInProcess(['run', join(dir, 'warn.yaml'), '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/field machine\.cmdline: the kernel command line has 1 problem \(--strict\)/);
  });

  it('checks expect keys as own properties: __proto__ and constructor are unknown counters, not Object.prototype', async () => {
    const r = await memhpInProcess(['run', file('proto.yaml', `${MACHINE}steps:\n  - expect: { vmstat: { __proto__: 1, constructor: 2 } }\n`)]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/vmstat __proto__: expected 1, got \(no such counter/);
    expect(r.stdout).toMatch(/vmstat constructor: expected 2, got \(no such counter/);
  });

  it('refuses an unknown fault site and an unknown YAML tag with their place', async () => {
    const site = await memhpInProcess(['run', file('site.yaml', `${MACHINE}faults: { sites: { 'pmdd': { rate: 1 } } }\n`)]);
    expect(site.code).toBe(2);
    expect(site.stderr).toMatch(/field faults\.sites\.pmdd: unknown fault site "pmdd"/);
    const tag = await memhpInProcess(['run', file('tag.yaml', 'memhp: 1\nmachine: !evil { arch: x86_64, nodes: [ { id: 0, memory: [ { start: 0, size: 4G } ] } ] }\n')]);
    expect(tag.code).toBe(2);
    expect(tag.stderr).toMatch(/tag\.yaml:2:\d+: YAML: .*tag/i);
  });
});

describe('safe outputs', () => {
  const small = join(REPO, 'examples/scenarios/000-memmap-on-memory.yaml');

  it('refuses an output that is one of the inputs: run s.yaml -o s.yaml, export log -o log (through another path too)', async () => {
    const s = file('self.yaml', readFileSync(small, 'utf8'));
    const before = readFileSync(s, 'utf8');
    const r = await memhpInProcess(['run', s, '-o', s]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/self\.yaml: field --output: is also an input of this command/);
    expect(readFileSync(s, 'utf8')).toBe(before);
    const log = join(dir, 'self.ndjson');
    expect((await memhpInProcess(['run', small, '-o', log])).code).toBe(0);
    const logBefore = readFileSync(log);
    const link = join(dir, 'self-link.ndjson');
    symlinkSync(log, link);
    const e = await memhpInProcess(['export', log, '--format', 'csv', '-o', link]);
    expect(e.code).toBe(2);
    expect(readFileSync(log).equals(logBefore)).toBe(true);
  });

  it('lets only one writer hold an output: a live lock refuses, a stale one (dead pid) is taken over', async () => {
    const target = join(dir, 'locked.ndjson');
    writeFileSync(`${target}.lock`, `${process.pid}\n`);
    const r = await memhpInProcess(['run', small, '-o', target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`another memhp \\(pid ${process.pid}\\) is writing this file`));
    expect(existsSync(target)).toBe(false);
    // A pid that no longer runs: a process we started and waited for.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((res) => dead.on('close', res));
    writeFileSync(`${target}.lock`, `${dead.pid}\n`);
    const ok = await memhpInProcess(['run', small, '-o', target]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(`${target}.lock`)).toBe(false);
    expect(tmpFilesIn(dir)).toEqual([]);
  });

  it('keeps the old log whole when a run overwriting it is killed with SIGKILL; the temporary file is a readable prefix', async () => {
    const d = tmp();
    const target = join(d, 'old.ndjson');
    expect((await memhpInProcess(['run', small, '-o', target])).code).toBe(0);
    const old = readFileSync(target);
    const long = join(d, 'long.yaml');
    writeFileSync(long, longScenario(30));
    const p = start(['run', long, '-o', target]);
    await waitFor(() => tmpFilesIn(d).some((f) => statSync(join(d, f)).size > 200_000), 60_000);
    p.child.kill('SIGKILL');
    expect((await p.done).signal).toBe('SIGKILL');
    expect(readFileSync(target).equals(old)).toBe(true);
    const partial = join(d, tmpFilesIn(d)[0]!);
    const rep = await memhpInProcess(['replay', partial]);
    expect(rep.code, rep.stderr).toBe(0);
    // Cut, so --strict says so: no end marker.
    // Cut, so --strict refuses it: a torn last line, or no end marker.
    expect((await memhpInProcess(['replay', partial, '--strict'])).stderr).toMatch(/without its end marker: it was cut|the last line is torn/);
  }, 120_000);
});

describe('signals and pipes', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${sig} stops a run at an event boundary, closes the log with an "interrupted" marker, says what was kept, exits ${code}`, async () => {
      const d = tmp();
      const long = join(d, 'long.yaml');
      // 300 rounds (~20 s uninterrupted): the signal lands long before the end even when the machine is idle.
      writeFileSync(long, longScenario(300));
      const log = join(d, 'cut.ndjson');
      const p = start(['run', long, '-o', log]);
      await waitFor(() => tmpFilesIn(d).some((f) => statSync(join(d, f)).size > 100_000), 60_000);
      p.child.kill(sig);
      const r = await p.done;
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`interrupted by ${sig} after \\d+ of 601 steps; .*cut\\.ndjson holds the \\d+ events so far`));
      expect(hasStack(r.stderr)).toBe(false);
      const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
      const last = JSON.parse(lines[lines.length - 1]!) as { type: string; payload: unknown; seq: number };
      expect(last).toMatchObject({ type: 'log.end', payload: { reason: 'interrupted', signal: sig } });
      // The marker follows a command.end: the run stopped between two kernel commands.
      expect(JSON.parse(lines[lines.length - 2]!)).toMatchObject({ type: 'command.end' });
      expect(tmpFilesIn(d)).toEqual([]);
      const strict = await memhpInProcess(['replay', log, '--strict']);
      expect(strict.code).toBe(2);
      expect(strict.stderr).toMatch(new RegExp(`the run was interrupted by ${sig}: the log holds only its first ${last.seq} events`));
    }, 120_000);
  }

  it('replay --strict accepts a complete log', async () => {
    const log = join(dir, 'complete.ndjson');
    expect((await memhpInProcess(['run', join(REPO, 'examples/scenarios/000-memmap-on-memory.yaml'), '-o', log])).code).toBe(0);
    const r = await memhpInProcess(['replay', log, '--strict']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('ends quietly when its reader goes away (EPIPE): replay --report timeline | head -c 10', async () => {
    const log = join(dir, 'pipe.ndjson');
    // About 22,000 events: megabytes of timeline, far more than a pipe holds, so memhp writes after head has gone.
    expect((await memhpInProcess(['run', file('pipe.yaml', longScenario(2)), '-o', log])).code).toBe(0);
    const cmd = `'${process.execPath}' --conditions=@memhp/source --import tsx '${BIN}' replay '${log}' --report timeline 2>'${dir}/epipe.err'; echo $? >'${dir}/epipe.code'`;
    const out = execFileSync('/bin/sh', ['-c', `(${cmd}) | head -c 10`], { cwd: REPO, encoding: 'utf8' });
    expect(out).toHaveLength(10);
    expect(readFileSync(join(dir, 'epipe.err'), 'utf8')).toBe('');
    expect(readFileSync(join(dir, 'epipe.code'), 'utf8').trim()).toBe('0');
    // The same log's timeline, whole: one line per event after the heading, written as the log is read.
    const t0 = Date.now();
    const all = await memhpInProcess(['replay', log, '--report', 'timeline']);
    const events = readFileSync(log, 'utf8').trimEnd().split('\n').length - 1;
    expect(all.stdout.trimEnd().split('\n')).toHaveLength(events + 1);
    expect(events).toBeGreaterThan(20_000);
    // Measured here: about 1 s for these ~22,000 events (the table it replaces took 29 s for 20k).
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 120_000);
});

describe('import reads a snapshot as untrusted data', () => {
  const copy = (): string => {
    const d = join(tmp(), 'root');
    cpSync(join(FIXTURES, 'arm64-small'), d, { recursive: true });
    return d;
  };

  it('refuses a symlink that leads out of --root', async () => {
    const root = copy();
    const f = join(root, 'proc/sys/kernel/osrelease');
    rmSync(f);
    symlinkSync('/etc/hostname', f);
    const r = await memhpInProcess(['import', '--root', root, '--no-check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/osrelease: a symlink leads out of --root \(to \/etc\/hostname\)/);
  });

  it('refuses a FIFO instead of waiting on it forever', async () => {
    const root = copy();
    const f = join(root, 'proc/cmdline');
    rmSync(f);
    execFileSync('mkfifo', [f]);
    const r = await memhpInProcess(['import', '--root', root, '--no-check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cmdline: not a regular file \(a FIFO\)/);
  });

  for (const bs of ['0', '1', 'zz', 'ffffffffffffffffffff']) {
    it(`refuses block_size_bytes "${bs}" with the file and line`, async () => {
      const root = copy();
      writeFileSync(join(root, 'sys/devices/system/memory/block_size_bytes'), `${bs}\n`);
      const r = await memhpInProcess(['import', '--root', root, '--no-check']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/block_size_bytes:1: /);
    });
  }

  it('keeps a newline in osrelease inside a comment: the scenario has no injected key', async () => {
    const root = copy();
    writeFileSync(join(root, 'proc/sys/kernel/osrelease'), '6.6.0\nsteps: []\nevil: yes\n');
    const name = join(root, 'proc/iomem');
    writeFileSync(name, readFileSync(name, 'utf8').replace('System RAM (kmem)', 'System RAM (kmem": x\n  - y)'));
    const r = await memhpInProcess(['import', '--root', root, '--no-check']);
    expect(r.code, r.stderr).toBe(0);
    const data = parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['memhp', 'name', 'machine', 'steps']);
    expect((data.steps as unknown[]).length).toBeGreaterThan(0);
  });

  it('refuses a file larger than 8 MiB', async () => {
    const root = copy();
    writeFileSync(join(root, 'proc/zoneinfo'), 'x'.repeat(9 << 20));
    const r = await memhpInProcess(['import', '--root', root, '--no-check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/zoneinfo: more than 8 MiB/);
  });
});

describe('query is sandboxed', () => {
  const log = join(dir, 'q.ndjson');
  // Recorded when the first query test starts, not while the file is collected: an in-process run captures
  // process.stdout/stderr, and one started at collection time ran beside the other describes' in-process commands
  // and took their output.
  let recorded: ReturnType<typeof memhpInProcess> | undefined;
  const ready = (): ReturnType<typeof memhpInProcess> => (recorded ??= memhpInProcess(['run', join(REPO, 'examples/scenarios/000-memmap-on-memory.yaml'), '-o', log]));

  it('reads no file, writes none, installs nothing, cannot unlock itself; --unsafe-full-access can', async () => {
    expect((await ready()).code).toBe(0);
    const secret = file('secret.csv', 'a,b\n1,2\n');
    const escaped = join(dir, 'escaped.csv');
    const sql = [
      `SELECT * FROM read_csv('${secret}')`,
      `COPY (SELECT 1) TO '${escaped}'`,
      'INSTALL httpfs',
      `ATTACH '${join(dir, 'x.db')}'`,
      'SET enable_external_access = true',
    ].join('; ');
    for (const q of sql.split('; ')) {
      const r = await memhpInProcess(['query', log, q]);
      expect(r.code, `${q}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/disabled by configuration|configuration has been locked/);
    }
    expect(existsSync(escaped)).toBe(false);
    const full = await memhpInProcess(['query', log, `SELECT sum(a + b) AS s FROM read_csv('${secret}')`, '--unsafe-full-access', '--json']);
    expect(full.code, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout)).toEqual([{ s: '3' }]);
  }, 240_000);

  it('stops a query at --timeout, leaves no copy of the log in TMPDIR, and answers exit 2', async () => {
    expect((await ready()).code).toBe(0);
    const t = tmp();
    mkdirSync(join(t, 'x'));
    const t0 = Date.now();
    const old = process.env.TMPDIR;
    process.env.TMPDIR = t;
    try {
      const r = await memhpInProcess(['query', log, 'SELECT count(*) FROM range(100000000000) a', '--timeout', '3']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/the query ran longer than 3 s and was stopped/);
    } finally {
      process.env.TMPDIR = old;
    }
    expect(Date.now() - t0).toBeLessThan(60_000);
    // tsx (the worker runs through it from source) keeps its cache there; nothing else may appear.
    expect(readdirSync(t).filter((f) => !f.startsWith('tsx-'))).toEqual(['x']);
  }, 120_000);
});
