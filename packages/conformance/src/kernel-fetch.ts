/**
 * Getting a real kernel to boot: Debian's packaged kernels (`debian:6.1` = bookworm, `debian:6.12` = trixie),
 * fetched with `apt-get download` through a private apt configuration (own sources list, lists and cache, so the
 * host's apt is never changed) and unpacked with `dpkg -x` into the cache directory — never installed — or the
 * user's own image (`--kernel-image PATH [--modules DIR]`).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConformanceInputError, ConformanceUnavailableError } from './errors.js';

export type ConformArch = 'x86_64' | 'arm64';

export interface KernelSpec {
  readonly kind: 'debian' | 'image';
  /** As the user wrote it, for reports: `debian:6.1`, or the image path. */
  readonly text: string;
  /** debian: the series asked for (`6.1`). */
  readonly series?: string;
  readonly imagePath?: string;
  readonly modulesDir?: string;
}

export interface FetchedKernel {
  readonly spec: string;
  /** The kernel image QEMU boots (bzImage / vmlinuz; arm64 vmlinuz is an EFI stub image). */
  readonly imagePath: string;
  /** `lib/modules/<release>` of the same build, if any. */
  readonly modulesDir?: string;
  /** `uname -r` of the build when known (Debian: from the package), e.g. `6.1.0-57-amd64`. */
  readonly release?: string;
  /** The Debian package and version it came from. */
  readonly package?: string;
  readonly packageVersion?: string;
  /** The upstream series (`6.1`) the model is run with. */
  readonly series?: string;
  /** The kernel's .config when it came with the image (Debian: boot/config-*). */
  readonly configPath?: string;
}

/** Debian suite of each kernel series we fetch. */
const DEBIAN_SUITES: Readonly<Record<string, string>> = { '6.1': 'bookworm', '6.12': 'trixie' };

/** The Debian kernel flavour per arch: arm64 needs cloud-arm64, the flavour with ACPI memory hotplug. */
const FLAVOURS: Readonly<Record<ConformArch, { readonly meta: string; readonly debArch: string }>> = {
  x86_64: { meta: 'linux-image-amd64', debArch: 'amd64' },
  arm64: { meta: 'linux-image-cloud-arm64', debArch: 'arm64' },
};

export function parseKernelSpec(text: string | undefined, image: string | undefined, modules: string | undefined): KernelSpec {
  if (image !== undefined) {
    if (text !== undefined) throw new ConformanceInputError('give either --kernel or --kernel-image, not both', '--kernel-image');
    const p = resolve(image);
    if (!existsSync(p) || !statSync(p).isFile()) throw new ConformanceInputError(`no such kernel image: ${image}`, '--kernel-image');
    if (modules !== undefined && !(existsSync(modules) && statSync(modules).isDirectory())) throw new ConformanceInputError(`no such modules directory: ${modules}`, '--modules');
    return { kind: 'image', text: image, imagePath: p, ...(modules !== undefined ? { modulesDir: resolve(modules) } : {}) };
  }
  if (modules !== undefined) throw new ConformanceInputError('--modules goes with --kernel-image', '--modules');
  if (text === undefined) throw new ConformanceInputError('which kernel? give --kernel debian:6.1 (or debian:6.12), or --kernel-image PATH', '--kernel');
  const m = /^debian:(\d+\.\d+)$/.exec(text.trim());
  if (!m) throw new ConformanceInputError(`not a kernel spec: "${text}" (expected debian:6.1 or debian:6.12, or use --kernel-image PATH)`, '--kernel');
  if (!DEBIAN_SUITES[m[1]!]) throw new ConformanceInputError(`no Debian release ships kernel ${m[1]}; known: ${Object.keys(DEBIAN_SUITES).map((s) => `debian:${s}`).join(', ')}`, '--kernel');
  return { kind: 'debian', text: text.trim(), series: m[1]! };
}

/** `$MEMHP_CACHE`, else `$XDG_CACHE_HOME/memhp`, else `~/.cache/memhp`. */
export function cacheDir(): string {
  return process.env.MEMHP_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'memhp');
}

/** The Debian mirror the host already uses (first deb.debian.org-style URI in its sources), else deb.debian.org. */
export function hostMirror(): string {
  if (process.env.MEMHP_DEBIAN_MIRROR) return process.env.MEMHP_DEBIAN_MIRROR;
  const files: string[] = [];
  for (const f of ['/etc/apt/sources.list']) if (existsSync(f)) files.push(f);
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) files.push(join(dir, f));
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (line.trimStart().startsWith('#')) continue;
      const m = /(https?:\/\/\S+?\/debian)\/?(\s|$)/.exec(line);
      if (m) return m[1]!;
    }
  }
  return 'http://deb.debian.org/debian';
}

function run(cmd: string, args: readonly string[], timeoutMs: number): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) return { ok: false, out: '', err: (r.error as Error).message };
  return { ok: r.status === 0, out: r.stdout, err: r.stderr };
}

/** apt options of a private configuration for one suite and architecture under the cache directory. */
function privateApt(root: string, suite: string, debArch: string): string[] {
  const mirror = hostMirror();
  const etc = join(root, 'etc');
  mkdirSync(join(etc, 'preferences.d'), { recursive: true });
  mkdirSync(join(root, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(root, 'cache', 'archives', 'partial'), { recursive: true });
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  const signed = existsSync(keyring) ? ` [signed-by=${keyring}]` : '';
  const security = mirror.replace(/\/debian$/, '/debian-security');
  writeFileSync(join(etc, 'sources.list'), `deb${signed} ${mirror} ${suite} main\ndeb${signed} ${security} ${suite}-security main\n`);
  return [
    '-o', `Dir::Etc::SourceList=${join(etc, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=-',
    '-o', `Dir::Etc::PreferencesParts=${join(etc, 'preferences.d')}`,
    '-o', `Dir::Etc::Preferences=${join(etc, 'preferences')}`,
    '-o', `Dir::State::Lists=${join(root, 'lists')}`,
    '-o', `Dir::Cache=${join(root, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', `APT::Architecture=${debArch}`,
    '-o', `APT::Architectures::=${debArch}`,
    '-o', 'Debug::NoLocking=1',
    '-q',
  ];
}

/** Fetch (once) and unpack Debian's kernel for a series and arch; later calls reuse the cache. */
export function fetchDebianKernel(series: string, arch: ConformArch, opts: { log?: (line: string) => void; refresh?: boolean } = {}): FetchedKernel {
  const suite = DEBIAN_SUITES[series];
  if (!suite) throw new ConformanceInputError(`no Debian release ships kernel ${series}`, '--kernel');
  const { meta, debArch } = FLAVOURS[arch];
  const root = join(cacheDir(), 'debian', `${suite}-${debArch}`);
  const marker = join(root, 'kernel.json');
  if (!opts.refresh && existsSync(marker)) {
    const k = JSON.parse(readFileSync(marker, 'utf8')) as FetchedKernel;
    if (existsSync(k.imagePath)) return k;
  }
  for (const tool of ['apt-get', 'apt-cache', 'dpkg']) {
    if (!run('sh', ['-c', `command -v ${tool}`], 5000).ok) throw new ConformanceUnavailableError(`debian:${series} needs ${tool} (Debian's apt) on this machine; use --kernel-image PATH instead`);
  }
  const apt = privateApt(join(root, 'apt'), suite, debArch);
  opts.log?.(`fetching Debian ${suite} ${meta} (${debArch}) from ${hostMirror()} …`);
  const up = run('apt-get', [...apt, 'update'], 300_000);
  const dep = run('apt-cache', [...apt, 'depends', '--no-recommends', '--no-suggests', meta], 60_000);
  const pkg = /Depends:\s*(linux-image-\S+)/.exec(dep.out)?.[1];
  if (!pkg) {
    throw new ConformanceUnavailableError(
      `debian:${series}: cannot resolve ${meta} in ${suite} (${debArch}) through ${hostMirror()}: ${(up.err || dep.err).trim().split('\n').slice(-2).join(' ') || 'package not found'}`,
    );
  }
  const debDir = join(root, 'debs');
  mkdirSync(debDir, { recursive: true });
  const dl = spawnSync('apt-get', [...apt, 'download', pkg], { cwd: debDir, encoding: 'utf8', timeout: 600_000 });
  const deb = readdirSync(debDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new ConformanceUnavailableError(`debian:${series}: apt-get download ${pkg} failed: ${(dl.stderr || dl.error?.message || '').trim().split('\n').slice(-2).join(' ')}`);
  const packageVersion = decodeURIComponent(deb.slice(pkg.length + 1).split('_')[0]!);
  const tmp = join(root, 'unpack.tmp');
  rmSync(tmp, { recursive: true, force: true });
  const x = run('dpkg', ['-x', join(debDir, deb), tmp], 300_000);
  if (!x.ok) throw new ConformanceUnavailableError(`debian:${series}: dpkg -x ${deb} failed: ${x.err.trim()}`);
  const tree = join(root, 'tree');
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  const boot = join(tree, 'boot');
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new ConformanceUnavailableError(`debian:${series}: ${deb} has no boot/vmlinuz-*`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  const modulesDir = [join(tree, 'lib', 'modules', release), join(tree, 'usr', 'lib', 'modules', release)].find((d) => existsSync(d));
  const k: FetchedKernel = {
    spec: `debian:${series}`,
    imagePath: join(boot, vmlinuz),
    ...(modulesDir ? { modulesDir } : {}),
    release,
    package: pkg,
    packageVersion,
    series,
    ...(existsSync(join(boot, `config-${release}`)) ? { configPath: join(boot, `config-${release}`) } : {}),
  };
  writeFileSync(marker, `${JSON.stringify(k, null, 2)}\n`);
  rmSync(join(debDir, deb), { force: true });
  return k;
}

export function fetchKernel(spec: KernelSpec, arch: ConformArch, opts: { log?: (line: string) => void } = {}): FetchedKernel {
  if (spec.kind === 'debian') return fetchDebianKernel(spec.series!, arch, opts);
  const release = spec.modulesDir ? spec.modulesDir.split('/').filter(Boolean).pop() : undefined;
  return {
    spec: spec.text,
    imagePath: spec.imagePath!,
    ...(spec.modulesDir ? { modulesDir: spec.modulesDir } : {}),
    ...(release ? { release } : {}),
  };
}

/**
 * Download one Debian package of a suite and architecture through the private apt configuration and unpack it
 * with `dpkg -x` into `<cache>/debian/<suite>-<debArch>/<name>/` (once; later calls reuse it). Returns that tree.
 */
export function fetchDebianPackage(suite: string, debArch: string, pkg: string, why: string, opts: { log?: (line: string) => void } = {}): string {
  const root = join(cacheDir(), 'debian', `${suite}-${debArch}`);
  const tree = join(root, 'pkg', pkg);
  const marker = join(tree, '.memhp-unpacked');
  if (existsSync(marker)) return tree;
  for (const tool of ['apt-get', 'dpkg']) {
    if (!run('sh', ['-c', `command -v ${tool}`], 5000).ok) throw new ConformanceUnavailableError(`${why} needs ${tool} (Debian's apt) on this machine to fetch ${pkg}`);
  }
  const apt = privateApt(join(root, 'apt'), suite, debArch);
  opts.log?.(`fetching Debian ${suite} ${pkg} (${debArch}) for ${why} …`);
  if (!readdirSync(join(root, 'apt', 'lists')).some((f) => /_Packages(\.\w+)?$/.test(f))) run('apt-get', [...apt, 'update'], 300_000);
  const debDir = join(root, 'debs');
  mkdirSync(debDir, { recursive: true });
  let dl = spawnSync('apt-get', [...apt, 'download', pkg], { cwd: debDir, encoding: 'utf8', timeout: 600_000 });
  let deb = readdirSync(debDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    // Stale lists (a package version that left the mirror): update once and try again.
    run('apt-get', [...apt, 'update'], 300_000);
    dl = spawnSync('apt-get', [...apt, 'download', pkg], { cwd: debDir, encoding: 'utf8', timeout: 600_000 });
    deb = readdirSync(debDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  }
  if (!deb) throw new ConformanceUnavailableError(`${why}: apt-get download ${pkg} (${suite}, ${debArch}) failed: ${(dl.stderr || dl.error?.message || '').trim().split('\n').slice(-2).join(' ')}`);
  const tmp = `${tree}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const x = run('dpkg', ['-x', join(debDir, deb), tmp], 300_000);
  if (!x.ok) throw new ConformanceUnavailableError(`${why}: dpkg -x ${deb} failed: ${x.err.trim()}`);
  writeFileSync(join(tmp, '.memhp-unpacked'), `${deb}\n`);
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  rmSync(join(debDir, deb), { force: true });
  return tree;
}

/** Is this ELF file built for the guest arch? (e_machine: 62 = x86-64, 183 = AArch64) */
export function elfMachineIs(path: string, arch: ConformArch): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(20);
    const n = readSync(fd, b, 0, 20, 0);
    return n === 20 && b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === (arch === 'x86_64' ? 62 : 183);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * busybox-static for the guest's arch: the host's /usr/bin/busybox when it is built for that arch (x86-64 guests
 * on an x86-64 host), else Debian 12's busybox-static for the guest arch, fetched into the cache.
 */
export function guestBusybox(arch: ConformArch, opts: { log?: (line: string) => void } = {}): string {
  const host = '/usr/bin/busybox';
  if (existsSync(host) && elfMachineIs(host, arch)) return host;
  if (arch === 'x86_64') return host; // buildInitramfs says how to install it
  const tree = fetchDebianPackage('bookworm', 'arm64', 'busybox-static', 'the arm64 guest\'s busybox', opts);
  const p = join(tree, 'bin', 'busybox');
  if (!existsSync(p)) throw new ConformanceUnavailableError(`the arm64 busybox-static package has no bin/busybox (${tree})`);
  return p;
}

export interface Aarch64Firmware {
  /** The UEFI code image for pflash unit 0 (read-only). */
  readonly code: string;
  /** The variable store template, copied for each boot into pflash unit 1. */
  readonly vars: string;
  /** Where it came from, for the report. */
  readonly source: string;
}

/**
 * UEFI firmware for `qemu-system-aarch64 -machine virt` (ACPI, which arm64 DIMM hotplug needs, comes only through
 * UEFI). Order: `$MEMHP_AARCH64_FIRMWARE` (a CODE image; `$MEMHP_AARCH64_VARS` or an AAVMF_VARS.fd beside it),
 * else Debian 13's qemu-efi-aarch64 (edk2 2025.02) fetched into the cache. Not the host's Debian 12 firmware
 * (edk2 2022.11): it describes the NOR flash variable store at 0x04000000 with cacheable attributes, so the
 * kernel adds it to memblock (NOMAP) outside every SRAT node, and arm64 NUMA init gives up ("NUMA: Warning:
 * invalid memblk node 16 [mem 0x04000000-0x07ffffff]", "Faking a node") — measured with Debian 6.1.192: a
 * two-node machine boots with one node. Debian 13's firmware marks that region uncached MMIO and NUMA works.
 */
export function aarch64Firmware(opts: { log?: (line: string) => void } = {}): Aarch64Firmware {
  const env = process.env.MEMHP_AARCH64_FIRMWARE;
  if (env) {
    if (!existsSync(env)) throw new ConformanceUnavailableError(`MEMHP_AARCH64_FIRMWARE names no file: ${env}`);
    const vars = process.env.MEMHP_AARCH64_VARS ?? [join(env, '..', 'AAVMF_VARS.fd'), join(env, '..', 'QEMU_VARS.fd')].find((p) => existsSync(p));
    if (!vars || !existsSync(vars)) throw new ConformanceUnavailableError(`no UEFI variable store beside ${env}; set MEMHP_AARCH64_VARS`);
    return { code: env, vars, source: `$MEMHP_AARCH64_FIRMWARE (${env})` };
  }
  let tree: string;
  try {
    tree = fetchDebianPackage('trixie', 'arm64', 'qemu-efi-aarch64', 'the arm64 guest\'s UEFI firmware', opts);
  } catch (e) {
    // Offline (e.g. --kernel-image): the host's qemu-efi-aarch64 still boots; a multi-node machine is then refused
    // after boot with the reason (runner.ts numaFallback).
    const host = { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd' };
    if (existsSync(host.code) && existsSync(host.vars)) {
      opts.log?.(`${(e as Error).message}; using the host's ${host.code}`);
      return { ...host, source: `the host's qemu-efi-aarch64 (${host.code}; Debian 12's edk2 loses NUMA on virt)` };
    }
    throw new ConformanceUnavailableError(`${(e as Error).message}; and no host firmware either (apt-get install -y qemu-efi-aarch64)`);
  }
  const dir = join(tree, 'usr', 'share', 'AAVMF');
  const code = ['AAVMF_CODE.no-secboot.fd', 'AAVMF_CODE.fd'].map((f) => join(dir, f)).find((p) => existsSync(p));
  const vars = join(dir, 'AAVMF_VARS.fd');
  if (!code || !existsSync(vars)) throw new ConformanceUnavailableError(`Debian 13's qemu-efi-aarch64 has no AAVMF_CODE/AAVMF_VARS images (${dir})`);
  const ver = readFileSync(join(tree, '.memhp-unpacked'), 'utf8').trim();
  return { code, vars, source: `Debian 13 ${ver.replace(/\.deb$/, '').replace(/%3a/gi, ':')}` };
}
