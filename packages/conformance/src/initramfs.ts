/**
 * The guest's initramfs, built on the fly: busybox-static, the agent (agent/init.sh) as /init, and the kernel
 * modules a scenario needs, taken from the same kernel build with their dependencies (read from each module's
 * `depends=` modinfo field), in load order. Packed with cpio (newc) and gzip.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ConformanceUnavailableError } from './errors.js';

/**
 * agent/init.sh, found from src/ (tests) or dist/ (the built package), or through the package itself when this
 * code is bundled into another package's output (the `memhp` binary bundles @memhp/conformance into
 * packages/cli/dist, where no agent/ sits beside it).
 */
export function agentScriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'agent', 'init.sh'), join(here, '..', '..', 'agent', 'init.sh')];
  try {
    candidates.push(join(dirname(createRequire(import.meta.url).resolve('@memhp/conformance/package.json')), 'agent', 'init.sh'));
  } catch {
    // not resolvable from here: only the paths beside this file remain
  }
  for (const p of candidates) if (existsSync(p)) return p;
  throw new ConformanceUnavailableError('the guest agent (agent/init.sh) is missing from @memhp/conformance');
}

/** Every module file under a modules tree, by module name (`virtio_mem` → its path). */
function indexModules(modulesDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) out.set(e.name.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_'), p);
    }
  };
  walk(join(modulesDir, 'kernel'));
  return out;
}

/** Module names built into the kernel (modules.builtin), which need no loading. */
function builtins(modulesDir: string): Set<string> {
  const f = join(modulesDir, 'modules.builtin');
  if (!existsSync(f)) return new Set();
  return new Set(readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.split('/').pop()!.replace(/\.ko$/, '').replace(/-/g, '_')));
}

function moduleBytes(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path);
  const tool = path.endsWith('.xz') ? ['xz', '-dc'] : path.endsWith('.zst') ? ['zstd', '-dcq'] : ['gzip', '-dc'];
  const r = spawnSync(tool[0]!, [...tool.slice(1), path], { maxBuffer: 256 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new ConformanceUnavailableError(`cannot decompress ${path} with ${tool[0]}: ${r.stderr?.toString() ?? r.error?.message}`);
  return r.stdout;
}

function dependsOf(bytes: Buffer): string[] {
  const i = bytes.indexOf('\0depends=');
  if (i < 0) return [];
  const end = bytes.indexOf(0, i + 1);
  return bytes
    .subarray(i + '\0depends='.length, end)
    .toString('latin1')
    .split(',')
    .filter(Boolean)
    .map((m) => m.replace(/-/g, '_'));
}

/**
 * The modules to load for `wanted`, dependencies first. A wanted module that is built in is dropped; one that is
 * neither built in nor present is an error naming it.
 */
export function resolveModules(modulesDir: string, wanted: readonly string[]): { name: string; bytes: Buffer }[] {
  const index = indexModules(modulesDir);
  const builtin = builtins(modulesDir);
  const order: { name: string; bytes: Buffer }[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const n = name.replace(/-/g, '_');
    if (seen.has(n) || builtin.has(n)) return;
    seen.add(n);
    const p = index.get(n);
    if (!p) throw new ConformanceUnavailableError(`kernel module ${n} is neither built in nor in ${modulesDir}`);
    const bytes = moduleBytes(p);
    for (const d of dependsOf(bytes)) visit(d);
    order.push({ name: n, bytes });
  };
  for (const w of wanted) visit(w);
  return order;
}

export interface InitramfsOptions {
  /** busybox-static for the guest's arch. */
  readonly busybox: string;
  /** The serial port the agent speaks on (`/dev/ttyS1`, `/dev/ttyAMA1`). */
  readonly agentPort: string;
  readonly modulesDir?: string;
  readonly modules?: readonly string[];
  /** Where to put the image (a cache directory; the name is a hash of its content). */
  readonly outDir: string;
}

/** Build (or reuse) the initramfs; returns its path. */
export function buildInitramfs(o: InitramfsOptions): string {
  if (!existsSync(o.busybox)) throw new ConformanceUnavailableError(`busybox-static is missing (${o.busybox}); install it: apt-get install -y busybox-static`);
  const mods = o.modules?.length ? (o.modulesDir ? resolveModules(o.modulesDir, o.modules) : missingModules(o.modules)) : [];
  const agent = readFileSync(agentScriptPath());
  const h = createHash('sha256');
  h.update(agent).update(o.agentPort).update(String(statSync(o.busybox).size));
  for (const m of mods) h.update(m.name).update(m.bytes);
  const out = join(o.outDir, `initramfs-${h.digest('hex').slice(0, 16)}.cpio.gz`);
  if (existsSync(out)) return out;
  mkdirSync(o.outDir, { recursive: true });
  const stage = `${out}.stage`;
  rmSync(stage, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'modules']) mkdirSync(join(stage, d), { recursive: true });
  copyFileSync(o.busybox, join(stage, 'bin', 'busybox'));
  chmodSync(join(stage, 'bin', 'busybox'), 0o755);
  writeFileSync(join(stage, 'init'), agent, { mode: 0o755 });
  writeFileSync(join(stage, 'agent-port'), `${o.agentPort}\n`);
  for (const m of mods) writeFileSync(join(stage, 'modules', `${m.name}.ko`), m.bytes);
  writeFileSync(join(stage, 'modules.list'), mods.map((m) => `${m.name}.ko\n`).join(''));
  const files = spawnSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0', 'sh', stage], { maxBuffer: 512 << 20, timeout: 120_000 });
  rmSync(stage, { recursive: true, force: true });
  if (files.status !== 0) throw new ConformanceUnavailableError(`cpio failed (apt-get install -y cpio): ${files.stderr?.toString() ?? files.error?.message}`);
  writeFileSync(`${out}.tmp`, gzipSync(files.stdout, { level: 1 }));
  renameSync(`${out}.tmp`, out);
  return out;
}

function missingModules(wanted: readonly string[]): never {
  throw new ConformanceUnavailableError(`this scenario needs kernel modules (${wanted.join(', ')}) but the kernel came without a modules directory; pass --modules DIR`);
}
