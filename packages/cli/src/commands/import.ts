/**
 * `memhp import [--root DIR] -o machine.yaml`: write a scenario that boots the machine whose /sys and /proc are
 * under DIR, with `expect` steps holding the real readings (block list, valid_zones, zone present/spanned
 * pages, nr_memmap_boot_pages). Running that scenario therefore checks memhp against reality; import runs it
 * right away and lists where the simulation and the machine differ.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SUPPORTED_KERNELS, versionKey, type ArchBackend, type ArchConfig, type KernelVersion } from '@memhp/core';
import { examples } from '../program.js';
import { env, optSize } from './common.js';
import { UserError } from '../errors.js';
import { readMachine, type RealMachine } from '../import/read.js';
import { formatBlockList } from '../parse/ranges.js';
import { formatSize, toHex } from '../parse/size.js';
import { paint, printJson, createOut } from '../render/output.js';
import { runScenario } from './run.js';
import type { BackendRegistry } from '../backends.js';

export const SCHEMA_URL = 'https://raw.githubusercontent.com/memhp/memhp/main/packages/cli/schema/scenario.schema.json';

/** Flags that are CPU flags in /proc/cpuinfo as well as backend switches. */
const CPU_FLAG_FEATURES = new Set(['pse', 'pdpe1gb', 'la57', 'hypervisor']);

export interface ImportResult {
  readonly scenario: string;
  readonly output: string | null;
  readonly notes: string[];
  readonly differences: Array<{ what: string; real: string; simulated: string }> | null;
}

/** "6.18.44-fc-v669" → the newest supported series not newer than it. */
export function kernelFromRelease(rel: string | null, notes: string[]): KernelVersion {
  const m = rel ? /^(\d+)\.(\d+)/.exec(rel) : null;
  if (!m) {
    notes.push('kernel release unknown (no proc/sys/kernel/osrelease): assuming 6.18');
    return '6.18';
  }
  const want = `${m[1]}.${m[2]}`;
  if ((SUPPORTED_KERNELS as readonly string[]).includes(want)) return want as KernelVersion;
  const older = SUPPORTED_KERNELS.filter((k) => versionKey(k) <= versionKey(want));
  const pickK = (older[older.length - 1] ?? SUPPORTED_KERNELS[0]) as KernelVersion;
  notes.push(`kernel ${rel} is not a modelled series; using ${pickK}, the nearest older one`);
  return pickK;
}

interface Range {
  start: bigint;
  end: bigint; // exclusive
  node: number;
}

/** Boot RAM per node: System RAM from iomem (page-rounded like memblock), split where the block's node changes. */
function nodeRanges(m: RealMachine, pageBytes: bigint, notes: string[]): Range[] {
  const nodeOf = new Map(m.blocks.map((b) => [b.id, b.node ?? 0]));
  const B = m.blockSizeBytes;
  let src: Array<{ start: bigint; end: bigint }>;
  if (m.systemRam.length && !m.iomemHidden) {
    src = m.systemRam.map((r) => ({ start: ((r.start + pageBytes - 1n) / pageBytes) * pageBytes, end: ((r.end + 1n) / pageBytes) * pageBytes })).filter((r) => r.end > r.start);
  } else {
    notes.push(m.iomemHidden ? '/proc/iomem shows zeros (read without root): boot RAM taken as whole memory blocks' : 'no System RAM in /proc/iomem: boot RAM taken as whole memory blocks');
    const managed = (id: number) => m.driverManagedRam.some((r) => BigInt(id) * B >= r.start && BigInt(id) * B <= r.end);
    src = m.blocks.filter((b) => !managed(b.id)).map((b) => ({ start: BigInt(b.id) * B, end: BigInt(b.id + 1) * B }));
  }
  const out: Range[] = [];
  for (const r of src) {
    let s = r.start;
    while (s < r.end) {
      const blockEnd = (s / B + 1n) * B;
      const e = blockEnd < r.end ? blockEnd : r.end;
      const node = nodeOf.get(Number(s / B)) ?? 0;
      const last = out[out.length - 1];
      if (last && last.end === s && last.node === node) last.end = e;
      else out.push({ start: s, end: e, node });
      s = e;
    }
  }
  return out;
}

function cmdlineFor(m: RealMachine, notes: string[]): string {
  const kernelPart = m.cmdline.split(/\s--(\s|$)/)[0]!.trim();
  const words: string[] = [kernelPart];
  const has = (name: string) => new RegExp(`(^|\\s)${name.replace(/[.]/g, '\\.')}=`).test(kernelPart);
  const p = m.hotplugParams;
  const mom = p.memmap_on_memory;
  if (mom && mom !== 'N' && !has('memory_hotplug.memmap_on_memory')) words.push(`memory_hotplug.memmap_on_memory=${mom === 'Y' ? '1' : mom}`);
  if (p.online_policy && p.online_policy !== 'contig-zones' && !has('memory_hotplug.online_policy')) words.push(`memory_hotplug.online_policy=${p.online_policy}`);
  if (p.auto_movable_ratio && p.auto_movable_ratio !== '301' && !has('memory_hotplug.auto_movable_ratio')) words.push(`memory_hotplug.auto_movable_ratio=${p.auto_movable_ratio}`);
  if (p.auto_movable_numa_aware && p.auto_movable_numa_aware !== 'Y' && !has('memory_hotplug.auto_movable_numa_aware')) words.push(`memory_hotplug.auto_movable_numa_aware=${p.auto_movable_numa_aware}`);
  if (m.autoOnlineBlocks && m.autoOnlineBlocks !== 'offline' && !has('memhp_default_state')) words.push(`memhp_default_state=${m.autoOnlineBlocks}`);
  if (kernelPart !== m.cmdline.trim()) notes.push('init arguments after "--" in /proc/cmdline were left out');
  return words.filter(Boolean).join(' ');
}

export function buildScenario(m: RealMachine, registry: BackendRegistry, o: { arch?: string; pageSize?: string }): { text: string; notes: string[] } {
  const notes: string[] = [];
  const archName = o.arch ?? m.cpu.arch;
  if (!archName) throw new UserError('cannot tell the architecture (no proc/cpuinfo); give --arch', { field: '--arch' });
  const backend: ArchBackend = registry.get(archName, { field: o.arch ? '--arch' : 'proc/cpuinfo' });
  const kernel = kernelFromRelease(m.osrelease, notes);
  let pageBytes = optSize(o.pageSize, '--page-size');
  if (pageBytes === undefined) {
    pageBytes = 4096n;
    if (backend.id !== 'x86_64') notes.push('page size not visible in /sys or /proc: assuming 4K (give --page-size)');
  }
  const features: Record<string, boolean> = {};
  if (m.cpu.flags.length) for (const f of backend.features) if (CPU_FLAG_FEATURES.has(f.name)) features[f.feature ?? f.name] = m.cpu.flags.includes(f.name);
  const config: ArchConfig = { pageSizeBytes: Number(pageBytes), structPageBytes: 64, kernel, features };
  const sectionBytes = 1n << BigInt(backend.constants(config).sectionSizeBits);

  // sizeof(struct page) from nr_memmap_boot_pages (6.11+): every present boot section has a whole memmap
  // (apps/docs/kernel/sparse.md#boot step 4, apps/docs/kernel/readings.md#readings), so S = boot pages × P / (present sections × pages per section).
  const ranges = nodeRanges(m, pageBytes, notes);
  const presentSections = new Set<bigint>();
  for (const r of ranges) for (let s = r.start / sectionBytes; s * sectionBytes < r.end; s++) presentSections.add(s);
  let structPage = 64;
  const boot = m.vmstat.nr_memmap_boot_pages;
  if (boot !== undefined && presentSections.size > 0) {
    const num = BigInt(boot) * pageBytes;
    const den = BigInt(presentSections.size) * (sectionBytes / pageBytes);
    if (num % den === 0n) structPage = Number(num / den);
    else notes.push(`nr_memmap_boot_pages ${boot} does not divide evenly over ${presentSections.size} sections: struct page size assumed 64`);
  }
  const bootRamEnd = ranges.reduce((x, r) => (r.end > x ? r.end : x), 0n);
  const policy = backend.memoryBlockSize({ ...config, structPageBytes: structPage }, { bootRamEndBytes: bootRamEnd });
  const blockSizeLine =
    policy.bytes === m.blockSizeBytes
      ? `  # blockSize: ${formatSize(m.blockSizeBytes)}  — not needed: the arch policy gives the same (${policy.why})`
      : `  blockSize: ${formatSize(m.blockSizeBytes)}   # the arch policy would pick ${formatSize(policy.bytes)} (${policy.why})`;
  if (policy.bytes !== m.blockSizeBytes) notes.push(`block size ${formatSize(m.blockSizeBytes)} differs from ${backend.id}'s policy (${formatSize(policy.bytes)}); set explicitly`);

  const nodes = [...new Set([...ranges.map((r) => r.node), ...m.blocks.map((b) => b.node ?? 0)])].sort((a, b) => a - b);
  const q = (s: string) => JSON.stringify(s);
  const L: string[] = [];
  L.push(`# yaml-language-server: $schema=${SCHEMA_URL}`);
  L.push(`# Written by memhp import from ${m.root} — a machine as its /sys and /proc describe it.`);
  L.push('# The expect steps hold the real readings; `memhp run` of this file checks memhp against them.');
  L.push('memhp: 1');
  L.push(`name: ${q(`imported from ${m.root}`)}`);
  L.push('machine:');
  L.push(`  arch: ${backend.id}`);
  L.push(`  pageSize: ${formatSize(pageBytes)}`);
  L.push(`  structPageSize: ${structPage}${boot !== undefined ? `   # from nr_memmap_boot_pages ${boot} over ${presentSections.size} present sections` : ''}`);
  L.push(`  kernel: ${q(kernel)}${m.osrelease ? `   # ${m.osrelease}` : ''}`);
  L.push(`  cmdline: ${q(cmdlineFor(m, notes))}`);
  L.push(blockSizeLine);
  if (Object.keys(features).length) L.push(`  features: { ${Object.entries(features).map(([k, v]) => `${k}: ${v}`).join(', ')} }   # from /proc/cpuinfo flags`);
  L.push('  nodes:');
  for (const n of nodes) {
    const rs = ranges.filter((r) => r.node === n);
    if (rs.length === 0) L.push(`    - { id: ${n} }`);
    else {
      L.push(`    - id: ${n}`);
      L.push('      memory:   # System RAM from /proc/iomem, rounded to whole pages as memblock does');
      for (const r of rs) L.push(`        - { start: ${toHex(r.start)}, size: ${toHex(r.end - r.start)} }`);
    }
  }
  L.push('steps:');
  // Driver-managed RAM was hot-added after boot (dax/kmem, virtio-mem): replay it as such, onlined into the
  // zone it is in now, unless the auto-online policy already does that.
  const B = m.blockSizeBytes;
  for (const r of m.driverManagedRam) {
    const start = r.start;
    const size = r.end + 1n - r.start;
    const ids = Array.from({ length: Number(size / B) }, (_, k) => Number(start / B) + k);
    const blocks = m.blocks.filter((b) => ids.includes(b.id));
    const node = blocks[0]?.node ?? 0;
    L.push(`  # ${r.name} at ${toHex(start)}: hot-added by a driver after boot (apps/docs/kernel/hotplug.md#entry-points)`);
    L.push(`  - add_memory_driver_managed: { node: ${node}, start: ${toHex(start)}, size: ${formatSize(size)}, name: ${q(r.name)} }`);
    const online = blocks.filter((b) => b.state === 'online');
    if (online.length && (m.autoOnlineBlocks ?? 'offline') === 'offline') {
      const movable = online.every((b) => b.valid_zones === 'Movable');
      L.push(`  - online: { blocks: ${q(formatBlockList(online.map((b) => b.id)))}, type: ${movable ? 'online_movable' : 'online_kernel'} }`);
    }
    notes.push(`${r.name} at ${toHex(start)} is replayed as a driver-managed hot-add, not as boot RAM`);
  }
  L.push('  # The memory block list as /sys/devices/system/memory shows it (apps/docs/kernel/user-space.md#sysfs).');
  L.push('  - expect:');
  L.push('      blocks:');
  const key = (b: RealMachine['blocks'][number]) => `${b.state}|${b.valid_zones}|${b.removable}`;
  for (let i = 0; i < m.blocks.length; ) {
    let j = i;
    while (j + 1 < m.blocks.length && m.blocks[j + 1]!.id === m.blocks[j]!.id + 1 && key(m.blocks[j + 1]!) === key(m.blocks[i]!)) j++;
    const a = m.blocks[i]!;
    const ids = formatBlockList(m.blocks.slice(i, j + 1).map((b) => b.id));
    L.push(`        ${q(ids)}: { state: ${a.state}, valid_zones: ${q(a.valid_zones)}, removable: ${q(a.removable)} }`);
    const next = m.blocks[j + 1];
    if (next && next.id > a.id + (j - i) + 1) L.push(`        ${q(formatBlockList(Array.from({ length: next.id - m.blocks[j]!.id - 1 }, (_, k) => m.blocks[j]!.id + 1 + k)))}: { exists: false }   # no present section`);
    i = j + 1;
  }
  const first = m.blocks[0];
  const last = m.blocks[m.blocks.length - 1];
  if (first && last) {
    L.push('  - expect:   # phys_index is the block id in %08lx');
    L.push('      blocks:');
    for (const b of first === last ? [first] : [first, last]) L.push(`        ${q(String(b.id))}: { phys_index: ${q(b.phys_index)} }`);
  }
  const vm = ['nr_memmap_boot_pages', 'nr_memmap_pages'].filter((k) => m.vmstat[k] !== undefined);
  if (vm.length) {
    L.push('  # /proc/vmstat memmap counters (6.11+, apps/docs/kernel/user-space.md#vmstat)');
    L.push('  - expect:');
    L.push('      vmstat:');
    for (const k of vm) L.push(`        ${k}: ${m.vmstat[k]}`);
  }
  const zones = m.zones.filter((z) => z.present > 0 || z.spanned > 0);
  if (zones.length) {
    L.push('  # /proc/zoneinfo present and spanned pages; managed is left out: it moves with reservations and deferred init (apps/docs/kernel/readings.md#readings)');
    L.push('  - expect:');
    L.push('      zoneinfo:');
    for (const z of zones) L.push(`        node${z.node}/${z.zone}: { present: ${z.present}, spanned: ${z.spanned} }`);
  }
  return { text: `${L.join('\n')}\n`, notes };
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('write a scenario that boots a real machine (from /sys and /proc), and say where simulation and reality differ')
    .option('--root <dir>', 'root of a saved copy of /sys and /proc', '/')
    .option('-o, --output <file>', 'scenario file to write (default: stdout)')
    .option('--arch <arch>', 'architecture (default: from proc/cpuinfo)')
    .option('--page-size <size>', 'base page size (default 4K)')
    .option('--no-check', 'do not run the scenario to compare with the machine')
    .addHelpText('after', examples([
      ['memhp import -o machine.yaml', 'this machine'],
      ['memhp import --root ./saved-host -o machine.yaml --json', 'a saved copy of another machine\'s /sys and /proc'],
    ]))
    .action(async (o: { root: string; output?: string; arch?: string; pageSize?: string; check: boolean }, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const m = readMachine(o.root);
      const { text, notes } = buildScenario(m, registry, o);
      if (o.output) {
        try {
          writeFileSync(o.output, text);
        } catch (e) {
          throw new UserError(`cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: o.output });
        }
      }
      let differences: ImportResult['differences'] = null;
      if (o.check && o.output) {
        try {
          const r = await runScenario(o.output, {}, registry, createOut(true));
          differences = r.steps.flatMap((s) => (s.failures ?? []).map((f) => ({ what: f.what, real: f.expected, simulated: f.actual })));
        } catch (e) {
          notes.push(`could not run the scenario to compare: ${(e as Error).message}`);
        }
      }
      const result: ImportResult = { scenario: o.output ? '' : text, output: o.output ?? null, notes, differences };
      if (out.json) return printJson(out, { ...result, scenario: o.output ? undefined : text });
      if (!o.output) out.line(text);
      const p = paint(out);
      const say = (s: string) => (o.output ? out.line(s) : out.err(s));
      if (o.output) say(`wrote ${o.output}: ${m.blocks.length} memory blocks, ${m.zones.filter((z) => z.present > 0).length} populated zones`);
      for (const n of notes) say(p.dim(`note: ${n}`));
      if (differences) {
        if (differences.length === 0) say(p.green('simulation matches the machine: blocks, valid_zones, zones and memmap counters'));
        else {
          say(p.yellow(`simulation and machine differ in ${differences.length} reading${differences.length === 1 ? '' : 's'}:`));
          for (const d of differences) say(`  ${d.what}: machine ${d.real}, memhp ${d.simulated}`);
        }
      }
    });
}
