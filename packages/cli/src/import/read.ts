/**
 * Read a real machine's memory-hotplug view from a root directory (`/` or a saved copy): memory blocks from
 * /sys/devices/system/memory, System RAM from /proc/iomem, zones from /proc/zoneinfo, counters from
 * /proc/vmstat and /proc/meminfo, the command line and the memory_hotplug module parameters. Parsing only.
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { UserError } from '../errors.js';

/** The most any one snapshot file may hold: /proc/zoneinfo of a large machine is well under this. */
export const MAX_SNAPSHOT_FILE_BYTES = 8 << 20;
/** The most memory block directories a snapshot may list (2^25: 52-bit physical space in 128 MiB blocks). */
export const MAX_SNAPSHOT_BLOCKS = 1 << 25;

/**
 * `rel` under `root`, refusing a path that leaves the root through a symlink (a saved snapshot is untrusted data:
 * `sys/…/state -> /etc/shadow`, `-> /dev/zero`). The real `/` has only links that stay inside it.
 */
function inside(root: string, rel: string): string {
  const p = join(root, rel);
  let real: string;
  try {
    real = realpathSync(p);
  } catch (e) {
    throw Object.assign(e as Error, { path: p });
  }
  const r = relative(realpathSync(root), real);
  if (r.startsWith('..') || isAbsolute(r)) throw new UserError(`a symlink leads out of --root (to ${real}); a snapshot is read only inside its root`, { file: p });
  return real;
}

/** Read a regular file inside the root, at most MAX_SNAPSHOT_FILE_BYTES, never blocking on a FIFO or a device. */
function readBoundedFile(root: string, rel: string): string {
  const p = join(root, rel);
  const real = inside(root, rel);
  const fd = openSync(real, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`not a regular file (${st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isDirectory() ? 'a directory' : 'special'}); a snapshot holds copies of /sys and /proc files`, { file: p });
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 16);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_SNAPSHOT_FILE_BYTES) throw new UserError(`more than ${MAX_SNAPSHOT_FILE_BYTES >> 20} MiB; no /sys or /proc file memhp reads is that large`, { file: p });
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A directory inside the root (not a symlink out of it). */
function listDir(root: string, rel: string): string[] {
  return readdirSync(inside(root, rel));
}

function isDirInside(root: string, rel: string): boolean {
  try {
    return lstatSync(inside(root, rel)).isDirectory();
  } catch (e) {
    if (e instanceof UserError) throw e;
    return false;
  }
}

/** A decimal count from a snapshot file: a safe integer, or a located error. */
function count(text: string, file: string, line: number, field: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UserError(`${field}: not a count memhp can hold exactly: ${text}`, { file, line });
  return n;
}

export interface RealBlock {
  readonly id: number;
  readonly state: string;
  readonly valid_zones: string;
  readonly phys_index: string;
  readonly removable: string;
  readonly node: number | null;
}

export interface RealZone {
  readonly node: number;
  readonly zone: string;
  readonly present: number;
  readonly managed: number;
  readonly spanned: number;
  readonly startPfn: number | null;
}

export interface IomemRange {
  readonly start: bigint;
  /** Inclusive end, as /proc/iomem prints it. */
  readonly end: bigint;
  readonly name: string;
}

export interface RealMachine {
  readonly root: string;
  readonly blockSizeBytes: bigint;
  readonly autoOnlineBlocks: string | null;
  readonly blocks: readonly RealBlock[];
  /** Top-level "System RAM" (boot RAM and hot-added RAM that is not driver-managed). */
  readonly systemRam: readonly IomemRange[];
  /** Driver-managed hot-added RAM: "System RAM (kmem)", "System RAM (virtio_mem)" (apps/docs/kernel/hotplug.md#entry-points). */
  readonly driverManagedRam: readonly IomemRange[];
  /** /proc/iomem showed only zeros (read without root). */
  readonly iomemHidden: boolean;
  readonly zones: readonly RealZone[];
  readonly vmstat: Readonly<Record<string, number>>;
  readonly meminfo: Readonly<Record<string, number>>;
  readonly cmdline: string;
  readonly hotplugParams: Readonly<Record<string, string>>;
  readonly osrelease: string | null;
  readonly cpu: { readonly arch: string | null; readonly flags: readonly string[] };
}

function read(root: string, rel: string, required: boolean): string | null {
  const p = join(root, rel);
  try {
    return readBoundedFile(root, rel);
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (!required) return null;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? 'missing (is --root a copy of / with sys/ and proc/?)' : `cannot read (${code ?? 'error'})`, { file: p });
  }
}

export function parseIomem(text: string): IomemRange[] {
  const out: IomemRange[] = [];
  for (const line of text.split('\n')) {
    // Top-level entries only (children are indented): "100000000-63fffffff : System RAM".
    const m = /^([0-9a-f]+)-([0-9a-f]+) : (.*)$/i.exec(line);
    if (m) out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), name: m[3]!.trim() });
  }
  return out;
}

export function parseZoneinfo(text: string, file = 'proc/zoneinfo'): RealZone[] {
  const out: RealZone[] = [];
  let cur: { node: number; zone: string; f: Record<string, number> } | null = null;
  const flush = () => {
    if (cur) out.push({ node: cur.node, zone: cur.zone, present: cur.f.present ?? 0, managed: cur.f.managed ?? 0, spanned: cur.f.spanned ?? 0, startPfn: cur.f.start_pfn ?? null });
  };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const h = /^Node\s+(\d+),\s+zone\s+(\S+)/.exec(line);
    if (h) {
      flush();
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(h[2]!)) throw new UserError(`not a zone name: ${JSON.stringify(h[2]!.slice(0, 40))}`, { file, line: i + 1 });
      cur = { node: count(h[1]!, file, i + 1, 'node'), zone: h[2]!, f: {} };
      return;
    }
    const m = /^\s+(spanned|present|managed|start_pfn):?\s+(\d+)/.exec(line);
    if (m && cur && cur.f[m[1]!] === undefined) cur.f[m[1]!] = count(m[2]!, file, i + 1, m[1]!);
  });
  flush();
  return out;
}

export function parseCounters(text: string, file = 'proc/vmstat'): Record<string, number> {
  const out = Object.create(null) as Record<string, number>;
  text.split('\n').forEach((line, i) => {
    const m = /^(\w+)[:\s]\s*(-?\d+)/.exec(line.replace(/^(\w+)\((\w+)\)/, '$1_$2'));
    if (m) out[m[1]!] = count(m[2]!, file, i + 1, m[1]!);
  });
  return out;
}

function cpuInfo(text: string | null): { arch: string | null; flags: string[] } {
  if (!text) return { arch: null, flags: [] };
  const flags = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  if (/^vendor_id\s*:/m.test(text) || /^flags\s*:/m.test(text)) return { arch: 'x86_64', flags };
  if (/^CPU implementer\s*:/m.test(text)) return { arch: 'arm64', flags };
  if (/^isa\s*:\s*rv64/m.test(text)) return { arch: 'riscv64', flags };
  return { arch: null, flags };
}

export function readMachine(root: string): RealMachine {
  const mem = 'sys/devices/system/memory';
  const bsFile = join(root, mem, 'block_size_bytes');
  const bs = read(root, `${mem}/block_size_bytes`, true)!.trim();
  if (!/^[0-9a-f]{1,16}$/i.test(bs)) throw new UserError(`not a hex block size: ${JSON.stringify(bs.slice(0, 40))}`, { file: bsFile, line: 1 });
  const blockSizeBytes = BigInt(`0x${bs}`);
  // The arch's own rule (power of two, at least a section) is applied once the arch is known; this keeps the
  // arithmetic below finite whatever the file says.
  if (blockSizeBytes < 1n << 20n || (blockSizeBytes & (blockSizeBytes - 1n)) !== 0n) {
    throw new UserError(`block size 0x${bs} is not a power of two of at least 1 MiB; no kernel has such memory blocks`, { file: bsFile, line: 1 });
  }
  const blocks: RealBlock[] = [];
  for (const d of listDir(root, mem)) {
    const m = /^memory(\d+)$/.exec(d);
    if (!m) continue;
    const id = Number(m[1]);
    if (!Number.isSafeInteger(id) || BigInt(id) * blockSizeBytes >= 1n << 52n) throw new UserError(`block id ${m[1]!.slice(0, 30)} lies beyond any physical address space (2^52 bytes)`, { file: join(root, mem, d) });
    if (blocks.length >= MAX_SNAPSHOT_BLOCKS) throw new UserError(`more than ${MAX_SNAPSHOT_BLOCKS} memory blocks`, { file: join(root, mem) });
    const rel = `${mem}/${d}`;
    if (!isDirInside(root, rel)) continue;
    const attr = (a: string) => (read(root, `${rel}/${a}`, false) ?? '').trim();
    const nodeEntry = listDir(root, rel).find((x) => /^node\d{1,9}$/.test(x));
    blocks.push({ id, state: attr('state'), valid_zones: attr('valid_zones'), phys_index: attr('phys_index'), removable: attr('removable'), node: nodeEntry ? Number(nodeEntry.slice(4)) : null });
  }
  blocks.sort((a, b) => a.id - b.id);
  const iomemFile = join(root, 'proc/iomem');
  const iomem = parseIomem(read(root, 'proc/iomem', false) ?? '');
  for (const r of iomem) {
    if (r.end < r.start || r.end >= 1n << 52n) throw new UserError(`range ${r.start.toString(16)}-${r.end.toString(16)} (${r.name.slice(0, 40)}) is not a physical range (start ≤ end < 2^52)`, { file: iomemFile });
  }
  const ram = iomem.filter((r) => r.name === 'System RAM');
  const driverManaged = iomem.filter((r) => r.name.startsWith('System RAM ('));
  const params: Record<string, string> = {};
  const prel = 'sys/module/memory_hotplug/parameters';
  if (isDirInside(root, prel)) for (const f of listDir(root, prel)) if (/^\w+$/.test(f)) params[f] = (read(root, `${prel}/${f}`, false) ?? '').trim();
  return {
    root,
    blockSizeBytes,
    autoOnlineBlocks: read(root, `${mem}/auto_online_blocks`, false)?.trim() ?? null,
    blocks,
    systemRam: ram,
    driverManagedRam: driverManaged.every((r) => r.start === 0n && r.end === 0n) ? [] : driverManaged,
    iomemHidden: ram.length > 0 && ram.every((r) => r.start === 0n && r.end === 0n),
    zones: parseZoneinfo(read(root, 'proc/zoneinfo', true)!, join(root, 'proc/zoneinfo')),
    vmstat: parseCounters(read(root, 'proc/vmstat', true)!, join(root, 'proc/vmstat')),
    meminfo: parseCounters(read(root, 'proc/meminfo', true)!, join(root, 'proc/meminfo')),
    cmdline: (read(root, 'proc/cmdline', true) ?? '').trim(),
    hotplugParams: params,
    osrelease: read(root, 'proc/sys/kernel/osrelease', false)?.trim() ?? null,
    cpu: cpuInfo(read(root, 'proc/cpuinfo', false)),
  };
}
