/**
 * The real `memhp` process: exit codes (0 ok, 1 refused, 2 bad input), messages that name file, line and
 * field, and never a stack trace. Spawns are started together in beforeAll (tsx start-up is ~1 s each).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createProgram } from '../src/index.js';
import { FIXTURES, hasStack, memhp, memhpInProcess, type Ran } from './helpers.js';

const bad = (f: string) => join(FIXTURES, 'bad', f);

const CASES = {
  help: ['--help'],
  version: ['--version'],
  archs: ['archs', '--json'],
  missingFile: ['run', 'no/such/scenario.yaml'],
  syntax: ['run', bad('syntax.yaml')],
  unknownArchFile: ['run', bad('unknown-arch.yaml')],
  badSizeFile: ['run', bad('bad-size.yaml')],
  unknownArch: ['check', 'memmap-on-memory', '--arch', 'sparc64'],
  aliasArch: ['params', '--arch', 'aarch64', '--json'],
  badSize: ['check', 'memmap-on-memory', '--block-size', '12Q'],
  badKernel: ['check', 'hvo', '--kernel', '4.19'],
  unknownOption: ['run', '--frobnicate'],
  missingLog: ['replay', 'no/such/run.ndjson'],
  badArchModule: ['--arch-module', './no/such/backend.js', 'archs'],
  badReport: ['replay', bad('syntax.yaml'), '--report', 'nonsense'],
  badCmdline: ['run', bad('bad-cmdline.yaml')],
} as const;

/** These run as real processes (exit status, stderr of the actual binary); the rest through the same main(). */
const AS_PROCESS = new Set<keyof typeof CASES>(['help', 'version', 'missingFile', 'syntax', 'badKernel', 'unknownOption']);

const ran: Partial<Record<keyof typeof CASES, Ran>> = {};

beforeAll(async () => {
  const keys = Object.keys(CASES) as Array<keyof typeof CASES>;
  const procs = keys.filter((k) => AS_PROCESS.has(k));
  // Two at a time: the machine has two cores.
  for (let i = 0; i < procs.length; i += 2) await Promise.all(procs.slice(i, i + 2).map(async (k) => (ran[k] = await memhp(CASES[k]))));
  for (const k of keys) if (!AS_PROCESS.has(k)) ran[k] = await memhpInProcess(CASES[k]);
}, 120_000);

const r = (k: keyof typeof CASES): Ran => ran[k]!;

describe('memhp as a process', () => {
  it('prints help with examples and exits 0', () => {
    expect(r('help').code).toBe(0);
    expect(r('help').stdout).toContain('Examples:');
    expect(r('help').stdout).toMatch(/run \[options\] <scenario>/);
  });

  it('prints its version', () => {
    expect(r('version').code).toBe(0);
    expect(r('version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists the built-in backends by uname -m name with their aliases', () => {
    expect(r('archs').code).toBe(0);
    const archs = (JSON.parse(r('archs').stdout) as { archs: Array<{ id: string; aliases: string[]; pageSizes: string[] }> }).archs;
    expect(archs.map((a) => a.id)).toEqual(expect.arrayContaining(['x86_64', 'arm64']));
    expect(archs.find((a) => a.id === 'arm64')?.pageSizes).toEqual(['4K', '16K', '64K']); // apps/docs/kernel/constants.md#per-arch
    expect(archs.find((a) => a.id === 'arm64')?.aliases).toContain('aarch64');
  });

  it('accepts aarch64 as an alias of arm64', () => {
    expect(r('aliasArch').code).toBe(0);
    expect(r('aliasArch').stderr).toBe('');
  });

  it('says "no such file" for a missing scenario, exit 2', () => {
    expect(r('missingFile').code).toBe(2);
    expect(r('missingFile').stderr).toContain('no/such/scenario.yaml: no such file');
  });

  it('names file, line and column of a YAML syntax error, exit 2', () => {
    expect(r('syntax').code).toBe(2);
    expect(r('syntax').stderr).toMatch(/syntax\.yaml:\d+:\d+: YAML syntax/);
  });

  it('names the line and field of an unknown arch in a scenario, exit 2', () => {
    expect(r('unknownArchFile').code).toBe(2);
    expect(r('unknownArchFile').stderr).toMatch(/unknown-arch\.yaml:3:9: field machine\.arch: unknown architecture "sparc64"; known: x86_64, arm64/);
  });

  it('names the step and field of a bad size in a scenario, exit 2', () => {
    expect(r('badSizeFile').code).toBe(2);
    expect(r('badSizeFile').stderr).toMatch(/bad-size\.yaml:7:\d+: field steps\[0\]\.add_memory\.size: not a size: "1.5G"/);
  });

  it('rejects an unknown --arch naming the known ones, exit 2', () => {
    expect(r('unknownArch').code).toBe(2);
    expect(r('unknownArch').stderr).toMatch(/field --arch: unknown architecture "sparc64"; known: x86_64, arm64/);
  });

  it('rejects a bad --block-size, exit 2', () => {
    expect(r('badSize').code).toBe(2);
    expect(r('badSize').stderr).toContain('field --block-size: not a size: "12Q"');
  });

  it('rejects an unsupported kernel naming the modelled series, exit 2', () => {
    expect(r('badKernel').code).toBe(2);
    expect(r('badKernel').stderr).toMatch(/field --kernel: unsupported kernel version "4\.19": memhp models the series 5\.10 to 6\.18/);
  });

  it('rejects an unknown option, exit 2', () => {
    expect(r('unknownOption').code).toBe(2);
    expect(r('unknownOption').stderr).toContain("unknown option '--frobnicate'");
  });

  it('says "no such file" for a missing log, exit 2', () => {
    expect(r('missingLog').code).toBe(2);
    expect(r('missingLog').stderr).toContain('no such file');
  });

  it('names an --arch-module that cannot be loaded, exit 2', () => {
    expect(r('badArchModule').code).toBe(2);
    expect(r('badArchModule').stderr).toMatch(/field --arch-module: cannot load arch module "\.\/no\/such\/backend\.js"/);
  });

  it('rejects an unknown report before reading anything, exit 2', () => {
    expect(r('badReport').code).toBe(2);
    expect(r('badReport').stderr).toMatch(/field --report: unknown report "nonsense"/);
  });

  it('names the scenario line of a kernel parameter core refuses, with the allowed values, exit 2', () => {
    expect(r('badCmdline').code).toBe(2);
    expect(r('badCmdline').stderr).toMatch(/bad-cmdline\.yaml:4:12: field machine\.cmdline: kernel command line: "memory_hotplug\.memmap_on_memory=maybe": not a kernel boolean; allowed: /);
  });

  it('never shows a stack trace for bad input', () => {
    for (const k of Object.keys(CASES) as Array<keyof typeof CASES>) {
      expect(hasStack(r(k).stderr), `${k}: ${r(k).stderr}`).toBe(false);
      expect(r(k).stderr, k).not.toContain('internal error');
    }
  });
});

const tree = await createProgram();

describe('the command tree (createProgram, as the docs use it)', () => {
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  const leaves = all(tree).filter((c) => c.commands.length === 0 && c.name() !== 'help');

  it('has every command of issue 6', () => {
    const names = leaves.map((c) => (c.parent && c.parent.name() !== 'memhp' ? `${c.parent.name()} ${c.name()}` : c.name()));
    expect(names).toEqual(
      expect.arrayContaining(['run', 'replay', 'check memmap-on-memory', 'check hvo', 'plan hot-add', 'diff', 'export', 'query', 'import', 'archs', 'params', 'events']),
    );
  });

  it.each(leaves.map((c) => [c.name(), c] as const))('%s has --help with examples', (_n, c) => {
    let text = '';
    c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    c.outputHelp();
    expect(text).toContain('Examples:');
    expect(text).toMatch(/\$ memhp /);
  });
});
