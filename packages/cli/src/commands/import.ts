/**
 * `memhp import [--root DIR] -o machine.yaml`: write a scenario that boots the machine whose /sys and /proc are
 * under DIR, with `expect` steps holding the real readings (block list, valid_zones, zone present/spanned
 * pages, nr_memmap_boot_pages). Running that scenario therefore checks memhp against reality; import runs it
 * right away and lists where the simulation and the machine differ.
 */
import type { Command } from 'commander';
import { Document, Pair, YAMLMap, YAMLSeq, type Node, type Scalar } from 'yaml';
import { blockSizeProblem, DEFAULT_KERNEL, KERNEL_SERIES, physRangeProblem, versionKey, type ArchBackend, type ArchConfig, type KernelVersion } from '@memhp/core';
import { examples } from '../program.js';
import { env, optSize } from './common.js';
import { UserError } from '../errors.js';
import { writeFileSafely } from '../output-file.js';
import { readMachine, type RealMachine } from '../import/read.js';
import { importReservations, type ImportReservations } from '../import/reservations.js';
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

/**
 * The kernel version of a release string: "6.18.44-fc-v669" → "6.18.44", the stable release it names. A
 * distribution's "X.Y.0-N-flavour" (Debian, Ubuntu) does not say which stable release it carries, so it becomes the
 * series "X.Y" (its newest stable release). Outside 5.10 … 6.18: the nearest modelled series, with a note.
 */
export function kernelFromRelease(rel: string | null, notes: string[]): KernelVersion {
  const m = rel ? /^(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(rel) : null;
  if (!m) {
    notes.push(`kernel release unknown (no proc/sys/kernel/osrelease): assuming ${DEFAULT_KERNEL}`);
    return DEFAULT_KERNEL;
  }
  const series = `${m[1]}.${m[2]}`;
  if (!(KERNEL_SERIES as readonly string[]).includes(series)) {
    const older = KERNEL_SERIES.filter((k) => versionKey(k) <= versionKey(series));
    const nearest = older[older.length - 1] ?? KERNEL_SERIES[0]!;
    notes.push(`kernel ${rel} is not a modelled series; using ${nearest}, the nearest ${older.length ? 'older' : 'newer'} one`);
    return nearest;
  }
  const patch = m[3];
  if (patch === undefined) return series as KernelVersion;
  if (Number(patch) === 0 && /^-\d/.test(m[4]!)) {
    notes.push(`kernel ${rel} is a distribution build that does not name its stable release: using the series ${series} (its newest stable release; /proc/version may name the exact one)`);
    return series as KernelVersion;
  }
  return `${series}.${Number(patch)}` as KernelVersion;
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
  const first = renderScenario(m, registry, o, new Map());
  // what the kernel reserved at boot beyond the memmap memhp computes: running the scenario without it tells
  const notes = [...first.notes];
  const reserved = importReservations(m, first.text, registry, first.pageBytes, notes);
  return { text: reserved.size ? renderScenario(m, registry, o, reserved).text : first.text, notes };
}

function renderScenario(
  m: RealMachine,
  registry: BackendRegistry,
  o: { arch?: string; pageSize?: string },
  reserved: ImportReservations,
): { text: string; notes: string[]; pageBytes: bigint } {
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
  const constants = backend.constants(config);
  const sectionBytes = 1n << BigInt(constants.sectionSizeBits);
  const bsWhy = blockSizeProblem(constants, m.blockSizeBytes);
  if (bsWhy) throw new UserError(`block size: ${bsWhy}`, { file: `${m.root}/sys/devices/system/memory/block_size_bytes`, line: 1 });
  for (const r of [...m.systemRam, ...m.driverManagedRam]) {
    const why = physRangeProblem(backend.id, constants, r.start, r.end + 1n - r.start);
    if (why) throw new UserError(`${r.name} ${r.start.toString(16)}-${r.end.toString(16)} ${why}`, { file: `${m.root}/proc/iomem` });
  }
  const highest = m.blocks[m.blocks.length - 1];
  if (highest && BigInt(highest.id + 1) * m.blockSizeBytes > 1n << BigInt(constants.maxPhysmemBits)) {
    throw new UserError(`memory${highest.id} lies beyond ${backend.id}'s 2^${constants.maxPhysmemBits}-byte physical address space`, { file: `${m.root}/sys/devices/system/memory/memory${highest.id}` });
  }

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
  if (policy.bytes !== m.blockSizeBytes) notes.push(`block size ${formatSize(m.blockSizeBytes)} differs from ${backend.id}'s policy (${formatSize(policy.bytes)}); set explicitly`);

  const nodes = [...new Set([...ranges.map((r) => r.node), ...m.blocks.map((b) => b.node ?? 0)])].sort((a, b) => a - b);
  // The scenario is built as a YAML document and serialized by the yaml package: whatever the snapshot's strings
  // hold (a newline in osrelease, a quote in a resource name), they stay values and comments, never new lines of YAML.
  const doc = new Document();
  const flow = (v: unknown): Node => {
    const n = doc.createNode(v) as Node & { flow?: boolean };
    n.flow = true;
    return n;
  };
  const withComment = <N extends Node>(n: N, comment: string, before = false): N => {
    if (before) n.commentBefore = ` ${comment.replace(/\n/g, ' ')}`;
    else n.comment = ` ${comment.replace(/\n/g, ' ')}`;
    return n;
  };
  const scalar = (v: unknown): Scalar => doc.createNode(v) as Scalar;
  const machine = new YAMLMap();
  machine.add(new Pair('arch', backend.id));
  machine.add(new Pair('pageSize', formatSize(pageBytes)));
  machine.add(new Pair('structPageSize', boot !== undefined ? withComment(scalar(structPage), `from nr_memmap_boot_pages ${boot} over ${presentSections.size} present sections`) : structPage));
  machine.add(new Pair('kernel', m.osrelease ? withComment(scalar(kernel), m.osrelease) : kernel));
  machine.add(new Pair('cmdline', cmdlineFor(m, notes)));
  if (policy.bytes !== m.blockSizeBytes) {
    machine.add(new Pair('blockSize', withComment(scalar(formatSize(m.blockSizeBytes)), `the arch policy would pick ${formatSize(policy.bytes)} (${policy.why})`)));
  }
  if (Object.keys(features).length) machine.add(new Pair('features', withComment(flow(features), 'from /proc/cpuinfo flags')));
  const nodeList = new YAMLSeq();
  for (const n of nodes) {
    const rs = ranges.filter((r) => r.node === n);
    const res = Object.entries(reserved.get(n) ?? {});
    if (rs.length === 0 && res.length === 0) nodeList.add(flow({ id: n }));
    else {
      const nm = new YAMLMap();
      nm.add(new Pair('id', n));
      if (rs.length) {
        const mem = new YAMLSeq();
        for (const r of rs) mem.add(flow({ start: toHex(r.start), size: toHex(r.end - r.start) }));
        nm.add(new Pair(withComment(scalar('memory'), 'System RAM from /proc/iomem, rounded to whole pages as memblock does', true), mem));
      }
      if (res.length) {
        const rm = flow(Object.fromEntries(res.map(([z, b]) => [z, formatSize(b)])));
        nm.add(new Pair(withComment(scalar('reserved'), 'present but not managed beyond the memmap memhp computes: kernel image, firmware, crashkernel … (zoneinfo, MemTotal)', true), rm));
      }
      nodeList.add(nm);
    }
  }
  machine.add(new Pair(policy.bytes === m.blockSizeBytes ? withComment(scalar('nodes'), `blockSize ${formatSize(m.blockSizeBytes)} is not given: the arch policy gives the same (${policy.why})`, true) : 'nodes', nodeList));

  const steps = new YAMLSeq();
  // Driver-managed RAM was hot-added after boot (dax/kmem, virtio-mem): replay it as such, onlined into the
  // zone it is in now, unless the auto-online policy already does that.
  const B = m.blockSizeBytes;
  for (const r of m.driverManagedRam) {
    const start = r.start;
    const size = r.end + 1n - r.start;
    const first = start / B;
    const last = (r.end + 1n) / B - 1n;
    const blocks = m.blocks.filter((b) => BigInt(b.id) >= first && BigInt(b.id) <= last);
    const node = blocks[0]?.node ?? 0;
    steps.add(withComment(flow({ add_memory_driver_managed: flow({ node, start: toHex(start), size: formatSize(size), name: r.name }) }), `${r.name} at ${toHex(start)}: hot-added by a driver after boot (apps/docs/kernel/hotplug.md#entry-points)`, true));
    const online = blocks.filter((b) => b.state === 'online');
    if (online.length && (m.autoOnlineBlocks ?? 'offline') === 'offline') {
      const movable = online.every((b) => b.valid_zones === 'Movable');
      steps.add(flow({ online: flow({ blocks: formatBlockList(online.map((b) => b.id)), type: movable ? 'online_movable' : 'online_kernel' }) }));
    }
    notes.push(`${r.name} at ${toHex(start)} is replayed as a driver-managed hot-add, not as boot RAM`);
  }
  const blockMap = new YAMLMap();
  const key = (b: RealMachine['blocks'][number]) => `${b.state}|${b.valid_zones}|${b.removable}`;
  for (let i = 0; i < m.blocks.length; ) {
    let j = i;
    while (j + 1 < m.blocks.length && m.blocks[j + 1]!.id === m.blocks[j]!.id + 1 && key(m.blocks[j + 1]!) === key(m.blocks[i]!)) j++;
    const a = m.blocks[i]!;
    blockMap.add(new Pair(formatBlockList(m.blocks.slice(i, j + 1).map((b) => b.id)), flow({ state: a.state, valid_zones: a.valid_zones, removable: a.removable })));
    const next = m.blocks[j + 1];
    const lastId = m.blocks[j]!.id;
    if (next && next.id > lastId + 1) {
      blockMap.add(new Pair(next.id - 1 === lastId + 1 ? String(lastId + 1) : `${lastId + 1}-${next.id - 1}`, withComment(flow({ exists: false }), 'no present section')));
    }
    i = j + 1;
  }
  steps.add(withComment(doc.createNode({ expect: { blocks: blockMap } }) as Node, 'The memory block list as /sys/devices/system/memory shows it (apps/docs/kernel/user-space.md#sysfs).', true));
  const firstBlock = m.blocks[0];
  const lastBlock = m.blocks[m.blocks.length - 1];
  if (firstBlock && lastBlock) {
    const pm = new YAMLMap();
    for (const b of firstBlock === lastBlock ? [firstBlock] : [firstBlock, lastBlock]) pm.add(new Pair(String(b.id), flow({ phys_index: b.phys_index })));
    steps.add(withComment(doc.createNode({ expect: { blocks: pm } }) as Node, 'phys_index is the block id in %08lx', true));
  }
  const vm = ['nr_memmap_boot_pages', 'nr_memmap_pages'].filter((k) => m.vmstat[k] !== undefined);
  if (vm.length) steps.add(withComment(doc.createNode({ expect: { vmstat: Object.fromEntries(vm.map((k) => [k, m.vmstat[k]])) } }) as Node, '/proc/vmstat memmap counters (6.11+, apps/docs/kernel/user-space.md#vmstat)', true));
  const zones = m.zones.filter((z) => z.present > 0 || z.spanned > 0);
  if (zones.length) {
    const zm = new YAMLMap();
    for (const z of zones) zm.add(new Pair(`node${z.node}/${z.zone}`, flow({ present: z.present, spanned: z.spanned })));
    steps.add(
      withComment(doc.createNode({ expect: { zoneinfo: zm } }) as Node, '/proc/zoneinfo present and spanned pages; managed is left out: it moves with reservations and deferred init (apps/docs/kernel/readings.md#readings)', true),
    );
  }
  const memTotal = m.meminfo.MemTotal;
  const managedKb = (m.zones.reduce((n, z) => n + z.managed, 0) * Number(pageBytes)) / 1024;
  // MemTotal is checked when zoneinfo agrees with it (a kernel still initialising struct pages lags behind it)
  if (reserved.size && memTotal !== undefined && managedKb <= memTotal) {
    steps.add(withComment(doc.createNode({ expect: { meminfo: flow({ MemTotal: `${memTotal} kB` }) } }) as Node, '/proc/meminfo MemTotal = totalram_pages, the sum of managed pages (fs/proc/meminfo.c)', true));
  }
  const top = new YAMLMap();
  top.add(new Pair('memhp', 1));
  top.add(new Pair('name', `imported from ${m.root}`));
  top.add(new Pair('machine', machine));
  top.add(new Pair('steps', steps));
  doc.contents = top;
  doc.commentBefore = [
    ` yaml-language-server: $schema=${SCHEMA_URL}`,
    ` Written by memhp import from ${m.root.replace(/\n/g, ' ')} — a machine as its /sys and /proc describe it.`,
    ' The expect steps hold the real readings; `memhp run` of this file checks memhp against them.',
  ].join('\n');
  return { text: doc.toString({ lineWidth: 0 }), notes, pageBytes };
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
      if (o.output) writeFileSafely(o.output, text);
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
