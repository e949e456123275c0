/**
 * Parsing what the guest agent's `snap` prints (one `@@F <path>` header per file, then the file) into typed
 * readings, with the kernel's names and units: /proc/meminfo in kB (HugePages_* counts), /proc/vmstat and
 * /proc/zoneinfo in pages, sysfs strings as the kernel prints them.
 */

export interface ZoneReading {
  readonly node: number;
  readonly zone: string;
  readonly free: number;
  readonly spanned: number;
  readonly present: number;
  readonly managed: number;
  /** Pages on the per-CPU free lists (Σ pagesets count): free, but not in nr_free_pages. */
  readonly pcp: number;
  /** Absent for an empty zone (zoneinfo prints start_pfn only for populated zones). */
  readonly start_pfn?: number;
}

export interface BlockReading {
  readonly id: number;
  readonly phys_index: string;
  readonly state: string;
  readonly node: number | null;
  readonly removable: string;
  readonly valid_zones: string;
}

export interface FirmwareMemmapEntry {
  readonly startBytes: bigint;
  /** Inclusive, as /sys/firmware/memmap/N/end prints it. */
  readonly endBytes: bigint;
  readonly type: string;
}

export interface Reading {
  readonly files: ReadonlyMap<string, string>;
  readonly meminfo: Record<string, number>;
  readonly vmstat: Record<string, number>;
  readonly zones: ZoneReading[];
  /** Per node: its meminfo (`Node N MemTotal: … kB` without the prefix). */
  readonly nodeMeminfo: Map<number, Record<string, number>>;
  readonly blocks: Map<number, BlockReading>;
  readonly blockSizeBytes: bigint | null;
  readonly autoOnlineBlocks: string | null;
  /** `hugepages-2048kB/nr_hugepages` → value (global), and per node. */
  readonly hugetlb: Record<string, string>;
  readonly hugetlbNode: Map<number, Record<string, string>>;
  /** /sys/module/memory_hotplug/parameters/<name>. */
  readonly hotplugParams: Record<string, string>;
  readonly firmwareMemmap: FirmwareMemmapEntry[];
  readonly cmdline: string;
  /** Node masks: `0`, `0-1` … */
  readonly nodeStates: Record<string, string>;
}

export function splitSnap(text: string): Map<string, string> {
  const files = new Map<string, string>();
  let cur: string | null = null;
  let lines: string[] = [];
  const flush = () => {
    if (cur !== null) files.set(cur, lines.join('\n'));
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = /^@@F (.+)$/.exec(line);
    if (m) {
      flush();
      cur = m[1]!;
      lines = [];
    } else if (cur !== null) lines.push(line);
  }
  flush();
  for (const [k, v] of files) files.set(k, v.replace(/\n+$/, ''));
  return files;
}

/** `Key:   123 kB` lines (meminfo; node meminfo after its `Node N ` prefix is dropped). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(?:Node \d+ )?([\w()]+):\s+(\d+)(?: kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function parseVmstat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+) (\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** /proc/zoneinfo: per `Node N, zone Z` section, the page counts (mm/vmstat.c zoneinfo_show_print). */
export function parseZoneinfo(text: string): ZoneReading[] {
  const out: ZoneReading[] = [];
  let cur: { node: number; zone: string; f: Record<string, number> } | null = null;
  const flush = () => {
    if (!cur) return;
    const f = cur.f;
    out.push({
      node: cur.node,
      zone: cur.zone,
      free: f.free ?? 0,
      spanned: f.spanned ?? 0,
      present: f.present ?? 0,
      managed: f.managed ?? 0,
      pcp: f.pcp ?? 0,
      ...(f.start_pfn !== undefined ? { start_pfn: f.start_pfn } : {}),
    });
  };
  for (const line of text.split('\n')) {
    const h = /^Node (\d+), zone\s+(\w+)/.exec(line);
    if (h) {
      flush();
      cur = { node: Number(h[1]), zone: h[2]!, f: {} };
      continue;
    }
    if (!cur) continue;
    const t = line.trim();
    let m = /^pages free\s+(\d+)$/.exec(t);
    if (m) cur.f.free = Number(m[1]);
    m = /^(spanned|present|managed)\s+(\d+)$/.exec(t);
    if (m) cur.f[m[1]!] = Number(m[2]);
    m = /^count:\s+(\d+)$/.exec(t);
    if (m) cur.f.pcp = (cur.f.pcp ?? 0) + Number(m[1]);
    m = /^start_pfn:\s+(\d+)$/.exec(t);
    if (m) cur.f.start_pfn = Number(m[1]);
  }
  flush();
  return out;
}

/** The agent's `memory-blocks` listing: `id phys_index state node removable valid_zones…` per block. */
export function parseBlocks(text: string): Map<number, BlockReading> {
  const out = new Map<number, BlockReading>();
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+) (\S+) (\d*) (\S*) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    out.set(Number(m[1]), { id: Number(m[1]), phys_index: m[2]!, state: m[3]!, node: m[4] ? Number(m[4]) : null, removable: m[5]!, valid_zones: m[6]!.trim() });
  }
  // The shell lists memory10 before memory2; keep ascending ids like the model's view.
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

export function parseReading(snap: string): Reading {
  const files = splitSnap(snap);
  const get = (p: string): string | undefined => files.get(p);
  const nodeMeminfo = new Map<number, Record<string, number>>();
  const hugetlb: Record<string, string> = {};
  const hugetlbNode = new Map<number, Record<string, string>>();
  const hotplugParams: Record<string, string> = {};
  const firmwareMemmap: FirmwareMemmapEntry[] = [];
  const nodeStates: Record<string, string> = {};
  for (const [path, text] of files) {
    let m = /^\/sys\/devices\/system\/node\/node(\d+)\/meminfo$/.exec(path);
    if (m) nodeMeminfo.set(Number(m[1]), parseMeminfo(text));
    m = /^\/sys\/kernel\/mm\/hugepages\/(hugepages-\d+kB\/\w+)$/.exec(path);
    if (m) hugetlb[m[1]!] = text.trim();
    m = /^\/sys\/devices\/system\/node\/node(\d+)\/hugepages\/(hugepages-\d+kB\/\w+)$/.exec(path);
    if (m) {
      const n = Number(m[1]);
      if (!hugetlbNode.has(n)) hugetlbNode.set(n, {});
      hugetlbNode.get(n)![m[2]!] = text.trim();
    }
    m = /^\/sys\/module\/memory_hotplug\/parameters\/(\w+)$/.exec(path);
    if (m) hotplugParams[m[1]!] = text.trim();
    m = /^\/sys\/devices\/system\/node\/(possible|online|has_memory|has_normal_memory|has_cpu)$/.exec(path);
    if (m) nodeStates[m[1]!] = text.trim();
    m = /^\/sys\/firmware\/memmap\/\d+$/.exec(path);
    if (m) {
      const f = /^(0x[0-9a-fA-F]+) (0x[0-9a-fA-F]+) (.+)$/.exec(text.trim());
      if (f) firmwareMemmap.push({ startBytes: BigInt(f[1]!), endBytes: BigInt(f[2]!), type: f[3]! });
    }
  }
  firmwareMemmap.sort((a, b) => (a.startBytes < b.startBytes ? -1 : a.startBytes > b.startBytes ? 1 : 0));
  const bs = get('/sys/devices/system/memory/block_size_bytes');
  return {
    files,
    meminfo: parseMeminfo(get('/proc/meminfo') ?? ''),
    vmstat: parseVmstat(get('/proc/vmstat') ?? ''),
    zones: parseZoneinfo(get('/proc/zoneinfo') ?? ''),
    nodeMeminfo,
    blocks: parseBlocks(get('memory-blocks') ?? ''),
    blockSizeBytes: bs ? BigInt(`0x${bs.trim()}`) : null,
    autoOnlineBlocks: get('/sys/devices/system/memory/auto_online_blocks')?.trim() ?? null,
    hugetlb,
    hugetlbNode,
    hotplugParams,
    firmwareMemmap,
    cmdline: get('/proc/cmdline')?.trim() ?? '',
    nodeStates,
  };
}
