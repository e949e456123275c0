#!/usr/bin/env node
// Checks that every public @memhp/* package is publishable and works when installed from its tarball:
//   1. pnpm pack of every public package into a temp dir (workspace:* rewritten to versions)
//   2. publint (strict) and attw (--profile esm-only) on every tarball
//   3. pnpm -r publish --dry-run --no-git-checks
//   4. npm i of all tarballs into an empty directory, then `npx memhp --version` and `npx memhp run <example>`
//   5. `changeset version` on a scratch copy of the repository: one fixed version for all @memhp/* packages,
//      a CHANGELOG.md entry for each, internal dependency ranges still coherent
// Usage: node scripts/pack-check.mjs [--keep] [--skip-install]   (needs built packages: pnpm turbo run build)
// Prints one line per check and a closing "N passed, N failed"; exits 1 if anything failed.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const work = mkdtempSync(join(tmpdir(), 'memhp-pack-'));
const results = [];

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: opts.cwd ?? root, encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeout ?? 300_000 });
  return { ok: r.status === 0, code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function check(name, fn) {
  const t0 = Date.now();
  let ok = false;
  let detail;
  try {
    const r = fn();
    ok = r === true || (typeof r === 'object' && r.ok);
    detail = typeof r === 'object' ? (r.detail ?? '') : '';
  } catch (e) {
    detail = e instanceof Error ? e.message : String(e);
  }
  const ms = Date.now() - t0;
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name} (${ms} ms)${detail ? `\n     ${detail.split('\n').slice(0, 30).join('\n     ')}` : ''}`);
  return ok;
}

const pkgs = readdirSync(join(root, 'packages'))
  .map((d) => ({ dir: join(root, 'packages', d), json: join(root, 'packages', d, 'package.json') }))
  .filter((p) => existsSync(p.json))
  .map((p) => ({ ...p, pkg: JSON.parse(readFileSync(p.json, 'utf8')) }))
  .filter((p) => !p.pkg.private)
  .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name));

// 0. metadata every published package needs (the issue's list; publint does not check all of them)
for (const p of pkgs) {
  check(`${p.pkg.name}: package.json metadata`, () => {
    const j = p.pkg;
    const missing = [];
    if (j.type !== 'module') missing.push('type: module');
    if (!j.exports?.['.']?.types || !j.exports?.['.']?.import) missing.push('exports["."] with types and import');
    if (!Array.isArray(j.files) || !j.files.includes('dist')) missing.push('files with dist');
    if (!j.license) missing.push('license');
    if (!j.repository?.url || !j.repository?.directory) missing.push('repository with url and directory');
    if (!existsSync(join(p.dir, 'README.md'))) missing.push('README.md');
    if (!existsSync(join(p.dir, 'LICENSE'))) missing.push('LICENSE');
    if (!existsSync(join(p.dir, 'dist'))) missing.push('dist (build first: pnpm turbo run build)');
    return { ok: missing.length === 0, detail: missing.length ? `missing: ${missing.join(', ')}` : '' };
  });
}

// 1. pack
const tarDir = join(work, 'tarballs');
mkdirSync(tarDir);
const tarballs = new Map();
for (const p of pkgs) {
  check(`${p.pkg.name}: pnpm pack`, () => {
    const r = run('pnpm', ['pack', '--pack-destination', tarDir], { cwd: p.dir });
    const file = readdirSync(tarDir).find((f) => f.startsWith(p.pkg.name.replace('@', '').replace('/', '-') + '-'));
    if (file) tarballs.set(p.pkg.name, join(tarDir, file));
    const listing = run('tar', ['-tzf', join(tarDir, file ?? 'missing')]).out;
    const bad = listing.split('\n').filter((f) => /\.tsbuildinfo$|\/test\/|\.test\.ts$/.test(f));
    return { ok: r.ok && !!file && bad.length === 0, detail: r.ok ? (bad.length ? `should not ship: ${bad.join(', ')}` : '') : r.out };
  });
}

// 2. publint and attw on the tarballs
for (const [name, tgz] of tarballs) {
  check(`${name}: publint --strict`, () => {
    const r = run('pnpm', ['exec', 'publint', 'run', tgz, '--strict']);
    return { ok: r.ok, detail: r.ok ? '' : r.out };
  });
  check(`${name}: attw --profile esm-only`, () => {
    const r = run('pnpm', ['exec', 'attw', tgz, '--profile', 'esm-only', '--format', 'ascii', '--no-color']);
    return { ok: r.ok, detail: r.ok ? '' : r.out };
  });
}

// 3. publish dry run of the whole workspace
check('pnpm -r publish --dry-run --no-git-checks', () => {
  const r = run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], { timeout: 600_000 });
  return { ok: r.ok, detail: r.ok ? '' : r.out };
});

// 4. install the tarballs into an empty directory and run the binary
if (!args.has('--skip-install')) {
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'memhp-pack-check', private: true, type: 'module' }, null, 2));
  const installed = check('npm i <all tarballs> into an empty directory', () => {
    const r = run('npm', ['i', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.values()], { cwd: app, timeout: 600_000 });
    return { ok: r.ok, detail: r.ok ? '' : r.out };
  });
  if (installed) {
    const cliVersion = pkgs.find((p) => p.pkg.name === '@memhp/cli')?.pkg.version;
    check('npx memhp --version', () => {
      const r = run('npx', ['-y', 'memhp', '--version'], { cwd: app });
      return { ok: r.ok && r.out.includes(String(cliVersion)), detail: `${r.out} (expected ${cliVersion})` };
    });
    const scenarios = existsSync(join(root, 'examples/scenarios'))
      ? readdirSync(join(root, 'examples/scenarios')).filter((f) => /\.ya?ml$/.test(f)).sort()
      : [];
    const pick = scenarios.find((f) => f.startsWith('cloud-hot-add')) ?? scenarios[0];
    check(`npx memhp run ${pick ?? '<no example scenario yet>'}`, () => {
      if (!pick) return { ok: false, detail: 'examples/scenarios has no scenario yet' };
      cpSync(join(root, 'examples/scenarios', pick), join(app, pick));
      const r = run('npx', ['-y', 'memhp', 'run', pick, '-o', 'run.ndjson'], { cwd: app });
      const log = join(app, 'run.ndjson');
      const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
      return { ok: r.ok && lines > 1, detail: `${r.out.split('\n').slice(0, 12).join('\n')}\n(log: ${lines} lines)` };
    });
    check('import the installed packages from plain Node ESM', () => {
      const names = [...tarballs.keys()].filter((n) => n !== '@memhp/cli');
      const src = names.map((n, i) => `import * as m${i} from '${n}'; if (!Object.keys(m${i}).length) throw new Error('${n} exports nothing');`).join('\n');
      writeFileSync(join(app, 'probe.mjs'), src + '\nconsole.log("ok");\n');
      const r = run('node', ['probe.mjs'], { cwd: app });
      return { ok: r.ok, detail: r.ok ? '' : r.out };
    });
  }
}

// 5. changeset version on a scratch copy
check('changeset version on a scratch copy: fixed versions and changelogs', () => {
  const copy = join(work, 'repo');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)));
  for (const f of files) cpSync(join(root, f), join(copy, f), { recursive: false });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  const before = new Map(pkgs.map((p) => [p.pkg.name, p.pkg.version]));
  const one = pkgs.find((p) => p.pkg.name === '@memhp/core') ?? pkgs[0];
  writeFileSync(join(copy, '.changeset', 'pack-check.md'), `---\n'${one.pkg.name}': minor\n---\n\npack-check: a scratch change\n`);
  const r = run('node', [join(root, 'node_modules/@changesets/cli/bin.js'), 'version'], { cwd: copy, env: { CI: 'true' } });
  if (!r.ok) return { ok: false, detail: r.out };
  const problems = [];
  const after = new Map();
  for (const p of pkgs) {
    const rel = p.dir.slice(root.length + 1);
    const j = JSON.parse(readFileSync(join(copy, rel, 'package.json'), 'utf8'));
    after.set(j.name, j.version);
    if (j.version === before.get(j.name)) problems.push(`${j.name} not bumped (${j.version})`);
    const log = join(copy, rel, 'CHANGELOG.md');
    if (!existsSync(log) || !readFileSync(log, 'utf8').includes(`## ${j.version}`)) problems.push(`${j.name}: CHANGELOG.md has no "## ${j.version}"`);
    for (const [dep, range] of Object.entries({ ...j.dependencies, ...j.peerDependencies })) {
      if (dep.startsWith('@memhp/') && !String(range).startsWith('workspace:')) problems.push(`${j.name} → ${dep}@${range} is not a workspace range`);
    }
  }
  const versions = new Set(after.values());
  if (versions.size !== 1) problems.push(`fixed group has several versions: ${[...after].map(([n, v]) => `${n}@${v}`).join(', ')}`);
  return { ok: problems.length === 0, detail: problems.join('\n') || `all @memhp/* → ${[...versions][0]}` };
});

if (!args.has('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
