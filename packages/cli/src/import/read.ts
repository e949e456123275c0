/**
 * Read a real machine's memory-hotplug view from a root directory (`/` or a saved copy): memory blocks from
 * /sys/devices/system/memory, System RAM from /proc/iomem, zones from /proc/zoneinfo, counters from
 * /proc/vmstat and /proc/meminfo, the command line and the memory_hotplug module parameters. Parsing only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

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
    return readFileSync(p, 'utf8');
  } catch (e) {
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

export function parseZoneinfo(text: string): RealZone[] {
  const out: RealZone[] = [];
  let cur: { node: number; zone: string; f: Record<string, number> } | null = null;
  const flush = () => {
    if (cur) out.push({ node: cur.node, zone: cur.zone, present: cur.f.present ?? 0, managed: cur.f.managed ?? 0, spanned: cur.f.spanned ?? 0, startPfn: cur.f.start_pfn ?? null });
  };
  for (const line of text.split('\n')) {
    const h = /^Node\s+(\d+),\s+zone\s+(\S+)/.exec(line);
    if (h) {
      flush();
      cur = { node: Number(h[1]), zone: h[2]!, f: {} };
      continue;
    }
    const m = /^\s+(spanned|present|managed|start_pfn):?\s+(\d+)/.exec(line);
    if (m && cur && cur.f[m[1]!] === undefined) cur.f[m[1]!] = Number(m[2]);
  }
  flush();
  return out;
}

export function parseCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)[:\s]\s*(-?\d+)/.exec(line.replace(/^(\w+)\((\w+)\)/, '$1_$2'));
    if (m) out[m[1]!] = Number(m[2]);
  }
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
  const bs = read(root, `${mem}/block_size_bytes`, true)!.trim();
  if (!/^[0-9a-f]+$/i.test(bs)) throw new UserError(`not a hex block size: "${bs}"`, { file: join(root, mem, 'block_size_bytes'), line: 1 });
  const blocks: RealBlock[] = [];
  for (const d of readdirSync(join(root, mem))) {
    const m = /^memory(\d+)$/.exec(d);
    if (!m) continue;
    const dir = join(root, mem, d);
    const attr = (a: string) => (read(root, `${mem}/${d}/${a}`, false) ?? '').trim();
    const nodeEntry = readdirSync(dir).find((x) => /^node\d+$/.test(x));
    blocks.push({ id: Number(m[1]), state: attr('state'), valid_zones: attr('valid_zones'), phys_index: attr('phys_index'), removable: attr('removable'), node: nodeEntry ? Number(nodeEntry.slice(4)) : null });
  }
  blocks.sort((a, b) => a.id - b.id);
  const iomem = parseIomem(read(root, 'proc/iomem', false) ?? '');
  const ram = iomem.filter((r) => r.name === 'System RAM');
  const driverManaged = iomem.filter((r) => r.name.startsWith('System RAM ('));
  const params: Record<string, string> = {};
  const pdir = join(root, 'sys/module/memory_hotplug/parameters');
  if (existsSync(pdir)) for (const f of readdirSync(pdir)) params[f] = (read(root, `sys/module/memory_hotplug/parameters/${f}`, false) ?? '').trim();
  return {
    root,
    blockSizeBytes: BigInt(`0x${bs}`),
    autoOnlineBlocks: read(root, `${mem}/auto_online_blocks`, false)?.trim() ?? null,
    blocks,
    systemRam: ram,
    driverManagedRam: driverManaged.every((r) => r.start === 0n && r.end === 0n) ? [] : driverManaged,
    iomemHidden: ram.length > 0 && ram.every((r) => r.start === 0n && r.end === 0n),
    zones: parseZoneinfo(read(root, 'proc/zoneinfo', true)!),
    vmstat: parseCounters(read(root, 'proc/vmstat', true)!),
    meminfo: parseCounters(read(root, 'proc/meminfo', true)!),
    cmdline: (read(root, 'proc/cmdline', true) ?? '').trim(),
    hotplugParams: params,
    osrelease: read(root, 'proc/sys/kernel/osrelease', false)?.trim() ?? null,
    cpu: cpuInfo(read(root, 'proc/cpuinfo', false)),
  };
}
