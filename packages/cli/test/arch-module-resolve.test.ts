/**
 * `--arch-module <directory | package | file>`: a directory and a package name resolve through package.json the
 * way Node resolves a package (doc/api/esm.md, PACKAGE_RESOLVE: `exports` first, then `main`, then index.js), a
 * file is imported as is, and every failure is one located line with exit 2.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { activeConditions, exportsTarget, resolveModuleSpec, splitPackageSpec } from '../src/module-resolve.js';
import { BIN, hasStack, memhp, memhpInProcess, node, REPO, tmp, type Ran } from './helpers.js';

const EXAMPLE = join(REPO, 'examples/arch-riscv64');
const SCENARIO = join(EXAMPLE, 'scenarios/hot-add-remove.yaml');
const IMPORT = new Set(['import', 'node', 'default']);
const SOURCE = new Set([...IMPORT, '@memhp/source']);

const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;

/**
 * The CLI as a process from any working directory (tsx by absolute URL, so a directory outside the repo works);
 * `source: false` drops the @memhp/source condition, so every package and the example load from their dist.
 */
function memhpProc(args: readonly string[], opts: { cwd?: string; source?: boolean } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  const flags = opts.source === false ? [] : ['--conditions=@memhp/source'];
  return node([...flags, '--import', TSX, BIN, ...args], { cwd: opts.cwd ?? REPO, env });
}

describe('exports resolution (Node ESM rules)', () => {
  it('picks the first key of a conditions object that is an active condition, in the object order', () => {
    const ex = { '.': { '@memhp/source': './src/index.ts', types: './dist/index.d.ts', import: './dist/index.js' } };
    expect(exportsTarget(ex, '.', IMPORT)).toBe('./dist/index.js');
    expect(exportsTarget(ex, '.', SOURCE)).toBe('./src/index.ts');
  });

  it('accepts the string and conditions-object sugar for "." and refuses other subpaths with it', () => {
    expect(exportsTarget('./main.js', '.', IMPORT)).toBe('./main.js');
    expect(exportsTarget({ import: './m.js', require: './c.cjs' }, '.', IMPORT)).toBe('./m.js');
    expect(exportsTarget('./main.js', './other', IMPORT)).toBeNull();
  });

  it('falls through an array and a nested condition that match nothing', () => {
    expect(exportsTarget({ '.': [{ require: './c.cjs' }, './fallback.js'] }, '.', IMPORT)).toBe('./fallback.js');
    expect(exportsTarget({ '.': { node: { require: './c.cjs' }, default: './d.js' } }, '.', IMPORT)).toBe('./d.js');
  });

  it('expands a "*" subpath pattern, longest prefix first', () => {
    const ex = { './arch/*': './dist/arch/*.js', './arch/riscv/*': './dist/rv/*.js' };
    expect(exportsTarget(ex, './arch/x', IMPORT)).toBe('./dist/arch/x.js');
    expect(exportsTarget(ex, './arch/riscv/sv57', IMPORT)).toBe('./dist/rv/sv57.js');
  });

  it('splits scoped and unscoped package names from their subpath', () => {
    expect(splitPackageSpec('@someone/memhp-arch-riscv64')).toEqual({ name: '@someone/memhp-arch-riscv64', subpath: '.' });
    expect(splitPackageSpec('@someone/pkg/sub/x')).toEqual({ name: '@someone/pkg', subpath: './sub/x' });
    expect(splitPackageSpec('pkg/sub')).toEqual({ name: 'pkg', subpath: './sub' });
  });

  it('reads --conditions from the node flags and NODE_OPTIONS, in every spelling', () => {
    const c = activeConditions(['--conditions=a', '-C', 'b', '--import', 'tsx'], '--conditions c -C=d');
    expect([...c].sort()).toEqual(['a', 'b', 'c', 'd', 'default', 'import', 'node']);
  });

  it('resolves the riscv64 example directory to its source under @memhp/source (no build needed)', () => {
    expect(resolveModuleSpec('./examples/arch-riscv64', REPO, SOURCE)).toEqual({ kind: 'file', path: join(EXAMPLE, 'src/index.ts') });
  });

  it('uses "main" when there are no exports, and index.js when there is neither', () => {
    const d = tmp();
    mkdirSync(join(d, 'a'));
    writeFileSync(join(d, 'a/package.json'), JSON.stringify({ name: 'a', main: 'lib/entry.js' }));
    mkdirSync(join(d, 'a/lib'));
    writeFileSync(join(d, 'a/lib/entry.js'), '');
    mkdirSync(join(d, 'b'));
    writeFileSync(join(d, 'b/index.js'), '');
    expect(resolveModuleSpec('./a', d, IMPORT)).toEqual({ kind: 'file', path: join(d, 'a/lib/entry.js') });
    expect(resolveModuleSpec('./b', d, IMPORT)).toEqual({ kind: 'file', path: join(d, 'b/index.js') });
  });
});

describe('--arch-module errors stay one located line (exit 2)', () => {
  const bad = async (spec: string, cwdFile: (d: string) => void = () => undefined) => {
    const d = tmp();
    cwdFile(d);
    const r = await memhpInProcess(['--arch-module', spec.replace('$D', d), 'archs']);
    expect(r.code).toBe(2);
    expect(hasStack(r.stderr)).toBe(false);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    return r.stderr;
  };

  it('names a path that does not exist', async () => {
    expect(await bad('./no/such/dir')).toMatch(/field --arch-module: cannot load arch module "\.\/no\/such\/dir": .*no such file or directory/);
  });

  it('names the missing build output a directory resolves to, with a hint', async () => {
    const e = await bad('$D/pkg', (d) => {
      mkdirSync(join(d, 'pkg'));
      writeFileSync(join(d, 'pkg/package.json'), JSON.stringify({ name: 'pkg', exports: { '.': { import: './dist/index.js' } } }));
    });
    expect(e).toMatch(/resolves to .*pkg\/dist\/index\.js, which does not exist \(is the package built\?/);
  });

  it('says when exports offer nothing for import()', async () => {
    const e = await bad('$D/cjs', (d) => {
      mkdirSync(join(d, 'cjs'));
      writeFileSync(join(d, 'cjs/package.json'), JSON.stringify({ name: 'cjs-only', exports: { '.': { require: './x.cjs' } } }));
    });
    expect(e).toMatch(/package cjs-only .* "exports" has no entry for "\." under the conditions/);
  });

  it('names a broken package.json', async () => {
    const e = await bad('$D/broken', (d) => {
      mkdirSync(join(d, 'broken'));
      writeFileSync(join(d, 'broken/package.json'), '{ "name": ');
    });
    expect(e).toMatch(/broken\/package\.json: not valid JSON/);
  });

  it('names a package that is installed nowhere', async () => {
    expect(await bad('@nobody/memhp-arch-nothing')).toMatch(/cannot load arch module "@nobody\/memhp-arch-nothing": no package "@nobody\/memhp-arch-nothing" in node_modules of .* or its parents/);
  });
});

describe('memhp run --arch-module <directory> (a real process)', () => {
  it('runs the riscv64 example scenario with the example loaded by its directory, and the log replays without it', async () => {
    const log = join(tmp(), 'rv.ndjson');
    const r = await memhp(['run', 'examples/arch-riscv64/scenarios/hot-add-remove.yaml', '--arch-module', './examples/arch-riscv64', '-o', log, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { arch: string; steps: Array<{ result: string }>; summary: { blocksAdded: number; blocksRemoved: number }; final: unknown };
    expect(j.arch).toBe('riscv64');
    expect(j.steps.map((s) => s.result).every((x) => x === 'ok')).toBe(true);
    // 256 MiB of 128 MiB blocks (block = section on the example, apps/docs/kernel/constants.md#per-arch riscv64 row): 2 added, 2 removed
    expect([j.summary.blocksAdded, j.summary.blocksRemoved]).toEqual([2, 2]);
    const rep = await memhpInProcess(['replay', log, '--report', 'final', '--json']);
    expect(rep.code, rep.stderr).toBe(0);
    expect((JSON.parse(rep.stdout) as { final: unknown }).final).toEqual(j.final);
  });

  it('loads the example as a published package would be: by name from node_modules of the working directory', async () => {
    const d = tmp();
    mkdirSync(join(d, 'node_modules/@someone'), { recursive: true });
    symlinkSync(EXAMPLE, join(d, 'node_modules/@someone/memhp-arch-riscv64'), 'dir');
    const r = await memhpProc(['--arch-module', '@someone/memhp-arch-riscv64', 'run', SCENARIO, '--json'], { cwd: d });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { arch: string }).arch).toBe('riscv64');
  });

  describe('built, as CI runs it (no @memhp/source condition: the directory resolves to dist/index.js)', () => {
    beforeAll(() => {
      // CI builds everything first (pnpm turbo run build); a fresh checkout may not have, so build what this run imports.
      const needed = ['examples/arch-riscv64', 'packages/core', 'packages/events', 'packages/arch-x86', 'packages/arch-arm64'];
      if (needed.some((p) => !existsSync(join(REPO, p, 'dist/index.js')))) {
        execFileSync('pnpm', ['turbo', 'run', 'build', '--filter=memhp-arch-riscv64', '--filter=@memhp/arch-x86', '--filter=@memhp/arch-arm64'], {
          cwd: REPO,
          stdio: 'ignore',
          env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
        });
      }
    });

    it('resolves the directory to the build output under the import condition', () => {
      expect(resolveModuleSpec('./examples/arch-riscv64', REPO, IMPORT)).toEqual({ kind: 'file', path: join(EXAMPLE, 'dist/index.js') });
    });

    it('runs the scenario on the built example', async () => {
      const r = await memhpProc(['run', SCENARIO, '--arch-module', './examples/arch-riscv64', '--json'], { source: false });
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { arch: string }).arch).toBe('riscv64');
    });
  });
});
