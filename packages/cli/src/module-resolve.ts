/**
 * Where an `--arch-module` value points: a file path (imported as is), a directory (resolved through its
 * package.json the way Node resolves a package: `exports` for ".", then `main`, then index.js), or a package name
 * (found in node_modules from the working directory upward, then resolved the same way).
 *
 * Node's `import()` refuses a directory ("Directory import … is not supported"), and `require.resolve` uses the
 * `require` condition, which an ESM-only backend (`exports: { ".": { "import": … } }`) does not offer; so the
 * `exports` lookup is done here, with the conditions this process was started with (`--conditions` /
 * `NODE_OPTIONS`, e.g. `@memhp/source` when the CLI runs from src) plus Node's defaults for `import()`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';

/** Why a module could not be resolved, in words for the user (no stack). */
export class ModuleResolveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleResolveError';
  }
}

export type ResolvedModule =
  | { readonly kind: 'file'; readonly path: string }
  /** Not found on disk: let `import()` try the CLI's own resolution (a globally installed package). */
  | { readonly kind: 'bare'; readonly specifier: string };

/** Conditions `import()` matches in this process, in no particular order (Node matches by the exports' key order). */
export function activeConditions(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): Set<string> {
  const out = new Set(['import', 'node', 'default']);
  const args = [...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = /^(?:--conditions|-C)=(.+)$/.exec(a);
    if (eq) out.add(eq[1]!);
    else if ((a === '--conditions' || a === '-C') && args[i + 1] !== undefined) out.add(args[++i]!);
  }
  return out;
}

const looksLikePath = (spec: string): boolean => spec.startsWith('.') || isAbsolute(spec) || /\.[cm]?[jt]sx?$/.test(spec);

/** Resolve an `--arch-module` value to a file to import. Throws {@link ModuleResolveError} with a user-facing message. */
export function resolveModuleSpec(spec: string, cwd: string, conditions: ReadonlySet<string> = activeConditions()): ResolvedModule {
  if (looksLikePath(spec)) {
    const abs = resolvePath(cwd, spec);
    const st = statOrNull(abs);
    if (!st) throw new ModuleResolveError(`${abs}: no such file or directory`);
    if (st.isDirectory()) return { kind: 'file', path: resolvePackageDir(abs, '.', conditions, spec) };
    return { kind: 'file', path: abs };
  }
  const { name, subpath } = splitPackageSpec(spec);
  const dir = findInNodeModules(name, cwd);
  if (!dir) return { kind: 'bare', specifier: spec };
  return { kind: 'file', path: resolvePackageDir(dir, subpath, conditions, spec) };
}

/** `@scope/pkg/sub/path` → name `@scope/pkg`, subpath `./sub/path`; `pkg` → `.`. */
export function splitPackageSpec(spec: string): { name: string; subpath: string } {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  const rest = parts.slice(n).join('/');
  return { name: parts.slice(0, n).join('/'), subpath: rest ? `./${rest}` : '.' };
}

function findInNodeModules(name: string, cwd: string): string | null {
  for (let dir = resolvePath(cwd); ; ) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const statOrNull = (p: string) => {
  try {
    return statSync(p);
  } catch {
    return null;
  }
};

interface PackageJson {
  readonly name?: unknown;
  readonly main?: unknown;
  readonly exports?: unknown;
}

/**
 * PACKAGE_RESOLVE for a package directory (Node's ESM resolution algorithm, doc/api/esm.md): `exports` when
 * present (and then nothing else), else `main`, else index.js.
 */
export function resolvePackageDir(dir: string, subpath: string, conditions: ReadonlySet<string>, spec = dir): string {
  const pjPath = join(dir, 'package.json');
  let pj: PackageJson = {};
  if (existsSync(pjPath)) {
    try {
      pj = JSON.parse(readFileSync(pjPath, 'utf8')) as PackageJson;
    } catch (e) {
      throw new ModuleResolveError(`${pjPath}: not valid JSON (${(e as Error).message})`);
    }
  }
  const label = typeof pj.name === 'string' ? `package ${pj.name} (${dir})` : dir;
  const noPj = existsSync(pjPath) ? '' : ' (the directory has no package.json)';
  let target: string;
  if (pj.exports !== undefined && pj.exports !== null) {
    const t = exportsTarget(pj.exports, subpath, conditions);
    if (t === null) {
      throw new ModuleResolveError(
        `${label}: its package.json "exports" has no entry for "${subpath}" under the conditions ${[...conditions].join(', ')}`,
      );
    }
    target = join(dir, t);
  } else if (subpath !== '.') {
    target = join(dir, subpath);
  } else if (typeof pj.main === 'string' && pj.main) {
    target = join(dir, pj.main);
  } else {
    target = join(dir, 'index.js');
  }
  if (!statOrNull(target)?.isFile()) {
    const hint = /[\\/]dist[\\/]/.test(target) ? ' (is the package built? e.g. `pnpm --filter <its name> build`)' : '';
    throw new ModuleResolveError(`"${spec}" resolves to ${target}, which does not exist${hint}${noPj}`);
  }
  return target;
}

/** The target of `exports` for a subpath: a string, a conditions object, an array of fallbacks, or a subpath map. */
export function exportsTarget(exportsField: unknown, subpath: string, conditions: ReadonlySet<string>): string | null {
  const isSubpathMap = (o: object): boolean => Object.keys(o).some((k) => k.startsWith('.'));
  if (typeof exportsField === 'string' || Array.isArray(exportsField) || (typeof exportsField === 'object' && exportsField !== null && !isSubpathMap(exportsField))) {
    return subpath === '.' ? conditionalTarget(exportsField, conditions, '') : null;
  }
  if (typeof exportsField !== 'object' || exportsField === null) return null;
  const map = exportsField as Record<string, unknown>;
  if (subpath in map && !subpath.includes('*')) return conditionalTarget(map[subpath], conditions, '');
  // one "*" per key: the longest prefix wins (PACKAGE_IMPORTS_EXPORTS_RESOLVE)
  let best: { key: string; match: string } | null = null;
  for (const key of Object.keys(map)) {
    const star = key.indexOf('*');
    if (star < 0) continue;
    const pre = key.slice(0, star);
    const post = key.slice(star + 1);
    if (subpath.startsWith(pre) && subpath.endsWith(post) && subpath.length >= key.length && (!best || pre.length > best.key.indexOf('*'))) {
      best = { key, match: subpath.slice(pre.length, subpath.length - post.length) };
    }
  }
  return best ? conditionalTarget(map[best.key], conditions, best.match) : null;
}

function conditionalTarget(t: unknown, conditions: ReadonlySet<string>, star: string): string | null {
  if (typeof t === 'string') return t.startsWith('./') ? t.replaceAll('*', star) : null;
  if (Array.isArray(t)) {
    for (const x of t) {
      const r = conditionalTarget(x, conditions, star);
      if (r !== null) return r;
    }
    return null;
  }
  if (typeof t === 'object' && t !== null) {
    // key order decides, as in Node: the first key that is an active condition
    for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
      if (!conditions.has(k)) continue;
      const r = conditionalTarget(v, conditions, star);
      if (r !== null) return r;
    }
  }
  return null;
}
