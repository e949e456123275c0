/**
 * Which architecture backends the CLI knows: the two built in (@memhp/arch-x86, @memhp/arch-arm64) plus any
 * module named with `--arch-module <file, directory or package>` whose module exports `default` or `backend`. Core never
 * imports a backend (apps/docs/concepts/design.md#contracts); the CLI picks one and passes it in.
 */
import { pathToFileURL } from 'node:url';
import * as x86 from '@memhp/arch-x86';
import * as arm64 from '@memhp/arch-arm64';
import { backendMatches, type ArchBackend } from '@memhp/core';
import { UserError } from './errors.js';
import { ModuleResolveError, resolveModuleSpec } from './module-resolve.js';

export function isArchBackend(v: unknown): v is ArchBackend {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.id === 'string' &&
    Array.isArray(b.pageSizes) &&
    typeof b.constants === 'function' &&
    typeof b.supports === 'function' &&
    typeof b.vmemmapPopulate === 'function'
  );
}

/** Find the backend in a module namespace: `default`, then `backend`, then any backend-shaped export. */
export function backendFromModule(ns: Record<string, unknown>): ArchBackend | null {
  for (const key of ['default', 'backend']) {
    const v = ns[key];
    if (isArchBackend(v)) return v;
    if (typeof v === 'function' && v.length === 0) {
      // A factory (`export default () => backend`) is accepted too.
      try {
        const made: unknown = (v as () => unknown)();
        if (isArchBackend(made)) return made;
      } catch {
        /* not a factory, or a factory that fails: treated as no backend */
      }
    }
  }
  for (const v of Object.values(ns)) if (isArchBackend(v)) return v;
  return null;
}

export function builtinBackends(): ArchBackend[] {
  const out: ArchBackend[] = [];
  for (const ns of [x86, arm64] as unknown as Record<string, unknown>[]) {
    const b = backendFromModule(ns);
    if (b) out.push(b);
  }
  return out;
}

/**
 * Load an `--arch-module` value: a file path (relative to the working directory) imported as is, a package
 * directory resolved through its package.json, or a package name resolved from the working directory
 * (module-resolve.ts). Every failure is a located {@link UserError} (exit 2, no stack).
 */
export async function loadArchModule(spec: string, cwd = process.cwd()): Promise<ArchBackend> {
  let url: string;
  try {
    const r = resolveModuleSpec(spec, cwd);
    url = r.kind === 'file' ? pathToFileURL(r.path).href : r.specifier;
  } catch (e) {
    if (e instanceof ModuleResolveError) throw new UserError(`cannot load arch module "${spec}": ${e.message}`, { field: '--arch-module' });
    throw e;
  }
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if (url === spec && (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new UserError(`cannot load arch module "${spec}": no package "${spec}" in node_modules of ${cwd} or its parents, nor next to memhp (install it, or give its directory)`, {
        field: '--arch-module',
      });
    }
    throw new UserError(`cannot load arch module "${spec}": ${describeThrown(e)}`, { field: '--arch-module' });
  }
  let b: ArchBackend | null;
  try {
    b = backendFromModule(ns);
  } catch (e) {
    throw new UserError(`arch module "${spec}": reading its exports failed: ${describeThrown(e)}`, { field: '--arch-module' });
  }
  if (!b) {
    throw new UserError(
      `arch module "${spec}" exports no arch backend (expected \`export default\` or \`export const backend\` implementing ArchBackend)`,
      { field: '--arch-module' },
    );
  }
  return guardBackend(b, spec);
}

/** One line for whatever a module threw (an Error, a string, an object, undefined). */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return (e.message || e.name).split('\n')[0]!;
  try {
    return `threw ${typeof e === 'string' ? JSON.stringify(e) : String(e)}`;
  } catch {
    return `threw a ${typeof e}`;
  }
}

/**
 * A loaded backend whose every method turns a throw into a located user error naming the module and the method,
 * so `run`, `check` and `plan` report a failing third-party backend the same way (exit 2, no stack trace).
 */
function guardBackend(b: ArchBackend, spec: string): ArchBackend {
  return new Proxy(b, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof v !== 'function') return v;
      const f = v as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        try {
          return f.apply(target, args);
        } catch (e) {
          if (e instanceof UserError) throw e;
          throw new UserError(`arch module "${spec}": ${String(key)}() failed: ${describeThrown(e)}`, { field: '--arch-module' });
        }
      };
    },
  });
}

export class BackendRegistry {
  private readonly list: ArchBackend[];
  constructor(backends: readonly ArchBackend[]) {
    this.list = [...backends];
  }
  static async create(archModules: readonly string[] = []): Promise<BackendRegistry> {
    const extra: ArchBackend[] = [];
    for (const m of archModules) extra.push(await loadArchModule(m));
    // A loaded module wins over a built-in with the same id, so a user can test a patched backend.
    return new BackendRegistry([...extra, ...builtinBackends()]);
  }
  all(): readonly ArchBackend[] {
    const seen = new Set<string>();
    return this.list.filter((b) => (seen.has(b.id) ? false : (seen.add(b.id), true)));
  }
  /** `uname -m` names and their aliases (`x86` → x86_64, `aarch64` → arm64). */
  find(name: string): ArchBackend | undefined {
    const n = name.trim();
    return this.all().find((b) => backendMatches(b, n)) ?? BUILTIN_ALIASES[n]?.let(this);
  }
  get(name: string, where: { file?: string; line?: number; column?: number; field?: string } = { field: '--arch' }): ArchBackend {
    const b = this.find(name);
    if (b) return b;
    const known = this.all().map((x) => x.id);
    throw new UserError(
      `unknown architecture "${name}"; known: ${known.length ? known.join(', ') : '(none loaded)'}` +
        ' (aliases: x86 → x86_64, aarch64 → arm64; load others with --arch-module)',
      where,
    );
  }
}

/** Aliases the issue requires even if a backend forgets to declare them. */
const BUILTIN_ALIASES: Record<string, { let(r: BackendRegistry): ArchBackend | undefined }> = {
  x86: { let: (r) => r.all().find((b) => b.id === 'x86_64') },
  amd64: { let: (r) => r.all().find((b) => b.id === 'x86_64') },
  aarch64: { let: (r) => r.all().find((b) => b.id === 'arm64') },
};
