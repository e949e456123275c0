/**
 * `conform`: boot the scenario's machine on a real kernel in QEMU and in the model, run the same steps on both,
 * and compare after boot and after every step. The model's machine takes its boot memory map
 * and its boot reservations from the real kernel's boot readings ("Early memory node ranges"; zoneinfo and
 * MemTotal), so the comparison starts from the same machine.
 */
import * as core from '@memhp/core';
import { createSimulator, parseKernelVersion, type ArchBackend, type Command, type KernelVersion, type MachineConfig, type ReadonlyMachineState } from '@memhp/core';
import { compareMessages, compareReading, modelSnapshot, type FieldRow, type ModelSnapshot } from './compare.js';
import { ConformanceInputError, ConformanceUnavailableError } from './errors.js';
import { buildInitramfs } from './initramfs.js';
import { aarch64Firmware, cacheDir, guestBusybox, type ConformArch, type FetchedKernel } from './kernel-fetch.js';
import { AGENT_VIRTIO_PORT, Guest, type GuestShape } from './qemu.js';
import { parseReading, type Reading } from './readings.js';
import { join } from 'node:path';

/** The part of the CLI's loaded scenario conform needs (structurally @memhp/cli's LoadedScenario). */
export interface ConformScenario {
  readonly file: string;
  readonly name?: string;
  readonly machine: MachineConfig;
  readonly steps: ReadonlyArray<
    | { readonly kind: 'command'; readonly index: number; readonly label: string; readonly step: string; readonly commands: Iterable<Command>; readonly hugepageSizeDefault?: boolean; readonly where: { readonly line?: number } }
    | { readonly kind: 'expect'; readonly index: number; readonly label: string; readonly where: { readonly line?: number } }
  >;
}

export interface StepResult {
  readonly index: number | null;
  readonly label: string;
  readonly line?: number;
  readonly errno: { readonly kernel: string; readonly memhp: string } | null;
  /** `compared`, or why not (`not-comparable: …`). */
  readonly status: 'compared' | 'not-comparable' | 'skipped';
  readonly why?: string;
  readonly rows: readonly FieldRow[];
  readonly dmesg: readonly string[];
}

export interface ConformResult {
  readonly scenario: string;
  readonly name?: string;
  readonly kernel: { readonly spec: string; readonly release: string; readonly version: string; readonly package?: string; readonly packageVersion?: string };
  /** The kernel version the model ran as, and why if it is not the exact one. */
  readonly modelKernel: { readonly version: string; readonly note?: string };
  readonly arch: string;
  readonly accel: string;
  readonly bootMs: number;
  readonly qemu: readonly string[];
  readonly notes: readonly string[];
  readonly steps: readonly StepResult[];
  readonly counts: Readonly<Record<string, number>>;
  /** Rows with verdict `differs` (unexplained). */
  readonly unexplained: number;
  readonly findings: number;
}

export interface ConformOptions {
  readonly kernel: FetchedKernel;
  readonly backend: ArchBackend;
  readonly arch: ConformArch;
  readonly busybox?: string;
  readonly bootTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Differences explained elsewhere (the conformance set's known-differences file): a `differs` row of a listed
   * step (1-based, as printed; 0 = boot) whose field matches becomes `known` with the reason.
   */
  readonly known?: ReadonlyArray<KnownDifference>;
}

export interface KnownDifference {
  readonly steps?: readonly number[];
  readonly field: RegExp;
  readonly why: string;
}

/** Mark the rows a known difference explains (never an equal row, never a kernel finding). */
export function applyKnown(rows: readonly FieldRow[], stepNo: number, known: readonly KnownDifference[]): FieldRow[] {
  return rows.map((r) => {
    if (r.verdict !== 'differs') return r;
    const k = known.find((x) => (!x.steps || x.steps.includes(stepNo)) && x.field.test(r.field));
    return k ? { ...r, verdict: 'known' as const, why: k.why } : r;
  });
}

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/**
 * The model's kernel version for a real kernel: the exact upstream version from /proc/version (`Debian
 * 6.1.192-3` → `6.1.192`; else `uname -r` up to the first character that is not a digit or dot, so a
 * `6.13.0-rc3+` build runs as 6.13.0 — a note says so), as the log header records. Core takes every X.Y.Z
 * of the series it models; a version outside them is bad input.
 */
export function modelKernelVersion(procVersion: string, release: string): { exact: string; version: KernelVersion; note?: string } {
  // The last "Debian X.Y.Z" is the kernel package's; an earlier one can be the compiler's (gcc-12 (Debian 12.2.0-14)).
  const deb = [...procVersion.matchAll(/Debian (\d+\.\d+\.\d+)/g)].pop()?.[1];
  const exact = deb ?? /^[\d.]+/.exec(release)?.[0]?.replace(/\.$/, '') ?? release;
  let version: KernelVersion;
  try {
    version = parseKernelVersion(exact);
  } catch (e) {
    throw new ConformanceInputError(`kernel ${exact} (uname -r ${release}): ${e instanceof Error ? e.message : String(e)}`);
  }
  const rc = deb === undefined ? /-rc(\d+)/.exec(release) : null;
  return { exact, version, ...(rc ? { note: `${release} is a release candidate: the model runs it as ${version}, the release it leads to` } : {}) };
}

/** `Early memory node ranges` of the boot log (mm/page_alloc.c free_area_init): memblock.memory per node. */
export function earlyNodeRanges(dmesg: readonly string[]): Map<number, { startBytes: bigint; sizeBytes: bigint }[]> {
  const out = new Map<number, { startBytes: bigint; sizeBytes: bigint }[]>();
  for (const l of dmesg) {
    const m = /node\s+(\d+): \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]/.exec(l);
    if (!m) continue;
    const n = Number(m[1]);
    if (!out.has(n)) out.set(n, []);
    const start = BigInt(m[2]!);
    out.get(n)!.push({ startBytes: start, sizeBytes: BigInt(m[3]!) + 1n - start });
  }
  return out;
}

/**
 * The boot log's sign that NUMA initialisation failed and the kernel fell back to one node (arm64
 * drivers/base/arch_numa.c numa_register_nodes → "Warning: invalid memblk node", then dummy_numa_init's
 * "Faking a node"), as the offending line; null when NUMA came up.
 */
export function numaFallback(dmesg: readonly string[]): string | null {
  const bad = dmesg.find((l) => /NUMA: Warning: invalid memblk node/.test(l));
  const fake = dmesg.find((l) => /NUMA: Faking a node/.test(l));
  if (!fake) return null;
  return (bad ?? fake).replace(/^\[[\s\d.]+\]\s*/, '').trim();
}

const sum = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);
const alignUp = (v: bigint, a: bigint): bigint => ((v + a - 1n) / a) * a;

/** The QEMU machine of a scenario: its nodes' boot RAM, DIMM slots and room, virtio-mem devices. */
export function guestShape(sc: ConformScenario, arch: ConformArch): GuestShape {
  let dimms = 0;
  let dimmBytes = 0n;
  const vm = new Map<string, { id: string; node: number; regionBytes: bigint; blockBytes?: bigint }>();
  for (const st of sc.steps) {
    if (st.kind !== 'command') continue;
    for (const c of st.commands) {
      if (c.kind === 'plug_dimm') {
        dimms++;
        dimmBytes += alignUp(c.sizeBytes, 128n * MiB);
      } else if (c.kind === 'virtio_mem' && !vm.has(c.id)) {
        // As the model sizes a new device's region (drivers/virtio-mem.ts configure): given, else the request
        // rounded up to the memory block size.
        const region = c.regionBytes ?? alignUp(c.requestedBytes > 0n ? c.requestedBytes : 128n * MiB, 128n * MiB);
        vm.set(c.id, { id: c.id, node: c.node ?? 0, regionBytes: region, ...(c.deviceBlockBytes !== undefined ? { blockBytes: c.deviceBlockBytes } : {}) });
      }
    }
  }
  return {
    arch,
    nodes: sc.machine.nodes.map((n) => ({ id: n.id, memoryBytes: sum(n.memory.map((r) => r.sizeBytes)) })),
    cmdline: sc.machine.cmdline,
    dimmSlots: dimms,
    // DIMMs start at a 1 GiB boundary above RAM; leave a GiB of room so QEMU's alignment never runs out.
    deviceBytes: dimmBytes + (dimms ? GiB : 0n),
    virtioMem: [...vm.values()],
  };
}

/** Why a step cannot be done on a real machine, or null. */
export function notComparable(c: Command): string | null {
  switch (c.kind) {
    case 'plug_dimm':
    case 'unplug_dimm':
    case 'block_state':
    case 'auto_online_blocks':
    case 'hugepages':
    case 'sysctl':
    case 'virtio_mem':
      return null;
    case 'probe':
      return 'the probe interface needs CONFIG_ARCH_MEMORY_PROBE, which distribution kernels leave off';
    case 'add_memory':
    case 'add_memory_driver_managed':
    case 'remove_memory':
    case 'offline_and_remove_memory':
      return `${c.kind}() of an arbitrary range is a kernel-internal call with no user-space or hypervisor trigger (use plug_dimm or virtio_mem)`;
    case 'memremap_pages':
    case 'memunmap_pages':
    case 'dax_kmem':
      // QEMU can emulate the device (-machine nvdimm=on, -device nvdimm) and the kernel package has libnvdimm,
      // nd_pmem and device_dax as modules; what is missing is the guest side and the mapping back to the model.
      return `${c.kind} has no real counterpart here yet: it needs a ZONE_DEVICE provider in the guest (an emulated NVDIMM namespace set up as an fsdax pfn or devdax device through sysfs), and the model's range, type and altmap would have to be taken from that device (its info-block reserve and alignment), which conform does not do`;
    default:
      return `no real counterpart for ${(c as { kind: string }).kind}`;
  }
}

/** errno name from the text the guest shell printed for a failed write (strerror). */
export function errnoFromText(text: string): string {
  const map: Record<string, string> = {
    'Invalid argument': 'EINVAL',
    'Device or resource busy': 'EBUSY',
    'Cannot allocate memory': 'ENOMEM',
    'Operation not permitted': 'EPERM',
    'Operation not supported': 'EOPNOTSUPP',
    'No such device': 'ENODEV',
    'No such file or directory': 'ENOENT',
    'File exists': 'EEXIST',
    'Numerical result out of range': 'ERANGE',
    'Interrupted system call': 'EINTR',
    'Unknown error 524': 'ENOTSUPP',
    'No such device or address': 'ENXIO',
    'Argument list too long': 'E2BIG',
  };
  return text === '0' ? 'ok' : (map[text.trim()] ?? text.trim());
}

/** The path a sysctl or module parameter of the scenario is written to. */
export function knobPath(name: string): string {
  const [head, ...rest] = name.split('.');
  if (['vm', 'kernel', 'fs', 'net', 'dev', 'abi', 'debug', 'user'].includes(head!)) return `/proc/sys/${name.replace(/\./g, '/')}`;
  return `/sys/module/${head}/parameters/${rest.join('.')}`;
}

class RealMachine {
  private dmesgSeen: string[] = [];
  constructor(
    readonly guest: Guest,
    readonly log: (l: string) => void,
  ) {}

  async snap(): Promise<{ reading: Reading; dmesg: string[] }> {
    const s = await this.guest.agent.request('snap', '', 120_000);
    const d = await this.guest.agent.request('dmesg', '', 60_000);
    const lines = d.body.split('\n').filter((l) => l.length > 0);
    this.dmesgSeen.push(...lines);
    return { reading: parseReading(s.body), dmesg: lines };
  }

  private async write(path: string, value: string): Promise<string> {
    const r = await this.guest.agent.request('write', `${path} ${value}`, 120_000);
    return errnoFromText(r.status);
  }

  /** Do one command on the real machine; returns its errno name (`ok` or `E…`). */
  async exec(c: Command, hugepageBytes: bigint): Promise<string> {
    const q = this.guest.qmp;
    switch (c.kind) {
      case 'plug_dimm': {
        await q.execute('object-add', { 'qom-type': 'memory-backend-ram', id: `mem-${c.id}`, size: Number(c.sizeBytes) });
        await q.execute('device_add', { driver: 'pc-dimm', id: c.id, memdev: `mem-${c.id}`, node: c.node, ...(c.startBytes !== undefined ? { addr: Number(c.startBytes) } : {}) });
        // The guest answers the insertion with _OST (ACPI_DEVICE_OST, source 1 = device check); 0 is success.
        const ost = await q.waitEvent((e) => e.event === 'ACPI_DEVICE_OST' && (e.data?.info as { device?: string } | undefined)?.device === c.id, 120_000);
        const st = (ost?.data?.info as { status?: number } | undefined)?.status;
        if (ost === null) return 'ETIMEDOUT(no _OST from the guest)';
        return st === 0 ? 'ok' : `_OST 0x${(st ?? 0).toString(16)}`;
      }
      case 'unplug_dimm': {
        await q.execute('device_del', { id: c.id });
        // DEVICE_DELETED is success; an _OST eject status other than 0x84 (in progress) is a refusal.
        for (;;) {
          const e = await q.waitEvent(
            (x) =>
              (x.event === 'DEVICE_DELETED' && x.data?.device === c.id) ||
              (x.event === 'ACPI_DEVICE_OST' && (x.data?.info as { device?: string; source?: number; status?: number } | undefined)?.device === c.id && (x.data?.info as { status?: number }).status !== 0x84 && (x.data?.info as { status?: number }).status !== 0),
            120_000,
          );
          if (e === null) return 'ETIMEDOUT(no DEVICE_DELETED)';
          if (e.event === 'DEVICE_DELETED') {
            await q.execute('object-del', { id: `mem-${c.id}` });
            return 'ok';
          }
          // The kernel could not offline/remove the memory: acpi_memory_device_remove refused (EBUSY in the model).
          return 'EBUSY';
        }
      }
      case 'block_state':
        return this.write(`/sys/devices/system/memory/memory${c.block}/state`, c.state);
      case 'auto_online_blocks':
        return this.write('/sys/devices/system/memory/auto_online_blocks', c.value);
      case 'hugepages': {
        const kb = (c.sizeBytes === 0n ? hugepageBytes : c.sizeBytes) / 1024n;
        const path = c.node === undefined ? `/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages` : `/sys/devices/system/node/node${c.node}/hugepages/hugepages-${kb}kB/nr_hugepages`;
        return this.write(path, String(c.count));
      }
      case 'sysctl':
        return this.write(knobPath(c.name), c.value);
      case 'virtio_mem': {
        await q.execute('qom-set', { path: `/machine/peripheral/${c.id}`, property: 'requested-size', value: Number(c.requestedBytes) });
        // The driver plugs/unplugs asynchronously; wait (bounded) until the device's plugged size stops moving.
        let last = -1;
        let stable = 0;
        for (let i = 0; i < 240 && stable < 3; i++) {
          await new Promise((r) => setTimeout(r, 500));
          const size = Number(await q.execute('qom-get', { path: `/machine/peripheral/${c.id}`, property: 'size' }));
          if (size === Number(c.requestedBytes)) return 'ok';
          stable = size === last ? stable + 1 : 0;
          last = size;
        }
        return `partial(plugged ${last} of ${c.requestedBytes} bytes)`;
      }
      default:
        return 'not-comparable';
    }
  }
}

interface ModelRun {
  sim: core.Simulator;
  messages: string[];
}

function bootModel(machine: MachineConfig, backend: ArchBackend): { run: ModelRun; ok: boolean; why?: string } {
  const sim = createSimulator({ config: machine, backend, autoBoot: false, seed: 1 });
  const messages: string[] = [];
  sim.bus.on('conform.messages', (e) => {
    if (e.type === 'kernel.warn') messages.push((e.payload as { message: string }).message);
  });
  const r = sim.boot();
  return { run: { sim, messages }, ok: r.ok, ...(r.ok ? {} : { why: `-${r.errno} ${r.why}` }) };
}

/** Run one scenario on the real kernel and the model. */
export async function conformScenario(sc: ConformScenario, o: ConformOptions): Promise<ConformResult> {
  const log = o.log ?? (() => {});
  const notes: string[] = [];
  const shape = guestShape(sc, o.arch);
  const needsVirtio = shape.virtioMem.length > 0;
  const arm = o.arch === 'arm64';
  // arm64: the agent's virtio-serial port needs virtio_console (a module in Debian 12's cloud-arm64 kernel,
  // built in in Debian 13's: resolveModules drops what is built in).
  const modules = [...(needsVirtio || arm ? ['virtio_pci'] : []), ...(arm ? ['virtio_console'] : []), ...(needsVirtio ? ['virtio_mem'] : [])];
  const initrd = buildInitramfs({
    busybox: o.busybox ?? guestBusybox(o.arch, { log }),
    agentPort: arm ? `virtio:${AGENT_VIRTIO_PORT}` : '/dev/ttyS1',
    ...(o.kernel.modulesDir ? { modulesDir: o.kernel.modulesDir } : {}),
    modules,
    outDir: join(cacheDir(), 'initramfs'),
  });
  const firmware = arm ? aarch64Firmware({ log }) : undefined;
  if (firmware) notes.push(`UEFI firmware: ${firmware.source}`);
  log(`booting ${o.kernel.spec} (${o.arch}, ${shape.nodes.length} nodes) …`);
  const guest = await Guest.boot(shape, { kernelImage: o.kernel.imagePath, initrd, ...(firmware ? { firmware } : {}), ...(o.bootTimeoutMs ? { bootTimeoutMs: o.bootTimeoutMs } : {}) });
  log(`booted under ${guest.accel.toUpperCase()} in ${(guest.bootMs / 1000).toFixed(1)} s`);
  const real = new RealMachine(guest, log);
  try {
    const procVersion = (await guest.agent.request('sh', 'cat /proc/version')).body.trim();
    const mk = modelKernelVersion(procVersion, guest.agent.release);
    if (mk.note) notes.push(mk.note);
    const boot = await real.snap();
    const numaFailed = numaFallback(boot.dmesg);
    if (numaFailed && sc.machine.nodes.length > 1) {
      throw new ConformanceUnavailableError(
        `the real machine came up with one NUMA node instead of ${sc.machine.nodes.length}: the kernel gave up on the firmware's NUMA description (${numaFailed})${firmware ? ` — firmware: ${firmware.source}; Debian 12's edk2 does this on virt, use Debian 13's (the default) or set MEMHP_AARCH64_FIRMWARE` : ''}`,
      );
    }

    // The model's machine: the scenario's, with the real boot memory map (the guest's "Early memory node ranges").
    const ranges = earlyNodeRanges(boot.dmesg);
    let machine0: MachineConfig = {
      ...sc.machine,
      kernel: mk.version,
      nodes: sc.machine.nodes.map((n) => ({ ...n, memory: ranges.get(n.id) ?? [] })),
    };
    if (ranges.size === 0) notes.push('the boot log has no "Early memory node ranges": the scenario\'s own memory map is used');
    // The kernel's build default for hot-added memory (CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE, 6.14+'s
    // CONFIG_MHP_DEFAULT_ONLINE_TYPE_*) is part of the real machine: when the scenario does not set
    // memhp_default_state, the model's machine gets the value the real kernel booted with.
    const realDefault = boot.reading.autoOnlineBlocks;
    if (realDefault && !/(^|\s)memhp_default_state=/.test(sc.machine.cmdline) && realDefault !== 'offline') {
      const add = `memhp_default_state=${realDefault}`;
      notes.push(`the kernel was built to online hot-added memory (auto_online_blocks reads "${realDefault}" at boot): the model's command line gets ${add}`);
      machine0 = { ...machine0, cmdline: `${machine0.cmdline} ${add}`.trim() };
    }
    const first = bootModel(ranges.size ? machine0 : { ...sc.machine, kernel: mk.version }, o.backend);
    if (!first.ok) throw new ConformanceInputError(`the model does not boot the real machine's memory map: ${first.why}`);
    const machine = withReservations(ranges.size ? machine0 : { ...sc.machine, kernel: mk.version }, boot.reading, first.run.sim.state, notes);
    const reserved = bootModel(machine, o.backend);
    if (!reserved.ok) throw new ConformanceInputError(`the model does not boot the real machine with its boot reservations: ${reserved.why}`);
    const model = reserved.run;
    const pageBytes = model.sim.state.machine.geometry.pageBytes;
    // Without a reservation input, MemTotal, node MemTotal and zone managed differ at boot by what the kernel
    // reserved; later steps must keep exactly that offset (a step that changes it is a real difference).
    const reservationFields = /^(meminfo\.MemTotal|zoneinfo\..*\.managed|node\d+\.MemTotal)$/;
    const bootRows = compareReading(boot.reading, model.sim.state, { pageBytes });
    const offsets = new Map<string, { value: number; why: string }>();
    // Where the reservations could be derived exactly these rows agree and no offset is kept.
    {
      for (const r of bootRows) {
        if (!reservationFields.test(r.field) || r.verdict !== 'differs') continue;
        const value = Number(r.kernel) - Number(r.memhp);
        offsets.set(r.field, { value, why: `boot reservations (${value} at boot) that could not be derived exactly (see the notes)` });
      }
    }

    const steps: StepResult[] = [];
    const userKnown = o.known ?? [];
    steps.push({
      index: null,
      label: 'boot',
      errno: null,
      status: 'compared',
      rows: applyKnown([...compareReading(boot.reading, model.sim.state, { pageBytes, offsets }), ...compareMessages(boot.dmesg, model.messages)], 0, userKnown),
      dmesg: boot.dmesg,
    });
    let prev: { real: Reading; model: ModelSnapshot } = { real: boot.reading, model: modelSnapshot(model.sim.state) };
    let stopped: string | null = null;
    const hugeDefault = o.backend.defaultHugepageBytes({ pageSizeBytes: machine0.pageSizeBytes, structPageBytes: machine0.structPageBytes, kernel: mk.version, features: machine0.features ?? {} });
    for (const st of sc.steps) {
      const line = st.where.line;
      if (stopped !== null) {
        steps.push({ index: st.index, label: st.label, ...(line !== undefined ? { line } : {}), errno: null, status: 'skipped', why: stopped, rows: [], dmesg: [] });
        continue;
      }
      if (st.kind === 'expect') {
        steps.push({ index: st.index, label: st.label, ...(line !== undefined ? { line } : {}), errno: null, status: 'skipped', why: 'an expect step checks the model only; conform compares every step anyway', rows: [], dmesg: [] });
        continue;
      }
      const why = [...st.commands].map(notComparable).find((x) => x !== null);
      if (why) {
        stopped = `after step ${st.index + 1} (not comparable) the two machines no longer match`;
        steps.push({ index: st.index, label: st.label, ...(line !== undefined ? { line } : {}), errno: null, status: 'not-comparable', why, rows: [], dmesg: [] });
        continue;
      }
      log(`step ${st.index + 1}: ${st.label}`);
      model.messages.length = 0;
      let mErr = 'ok';
      let kErr = 'ok';
      for (const c0 of st.commands) {
        const c = c0.kind === 'hugepages' && c0.sizeBytes === 0n ? { ...c0, sizeBytes: hugeDefault } : c0;
        const m = model.sim.exec(c);
        if (!m.ok && mErr === 'ok') mErr = m.errno;
        const k = await real.exec(c, hugeDefault);
        if (k !== 'ok' && kErr === 'ok') kErr = k;
      }
      const after = await real.snap();
      const rows = [
        { field: 'errno', kernel: kErr, memhp: mErr, difference: kErr === mErr ? '' : '≠', verdict: kErr === mErr ? ('equal' as const) : ('differs' as const) },
        ...compareReading(after.reading, model.sim.state, { pageBytes, previous: prev, offsets }),
        ...compareMessages(after.dmesg, model.messages),
      ];
      steps.push({ index: st.index, label: st.label, ...(line !== undefined ? { line } : {}), errno: { kernel: kErr, memhp: mErr }, status: 'compared', rows: applyKnown(rows, st.index + 1, userKnown), dmesg: after.dmesg });
      prev = { real: after.reading, model: modelSnapshot(model.sim.state) };
    }
    const counts: Record<string, number> = {};
    for (const s of steps) for (const r of s.rows) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
    return {
      scenario: sc.file,
      ...(sc.name ? { name: sc.name } : {}),
      kernel: { spec: o.kernel.spec, release: guest.agent.release, version: mk.exact, ...(o.kernel.package ? { package: o.kernel.package } : {}), ...(o.kernel.packageVersion ? { packageVersion: o.kernel.packageVersion } : {}) },
      modelKernel: { version: mk.version, ...(mk.note ? { note: mk.note } : {}) },
      arch: o.arch,
      accel: guest.accel,
      bootMs: guest.bootMs,
      qemu: guest.args,
      notes,
      steps,
      counts,
      unexplained: counts.differs ?? 0,
      findings: counts.finding ?? 0,
    };
  } finally {
    await guest.stop();
  }
}

/**
 * The model machine with the kernel's boot reservations (present but not managed pages the model does not compute
 * itself), derived per node and zone from the real zoneinfo and MemTotal right after boot by core's
 * deriveBootReservations; what cannot be derived exactly is said in `notes`.
 */
function withReservations(machine: MachineConfig, real: Reading, modelState: ReadonlyMachineState, notes: string[]): MachineConfig {
  const pageBytes = modelState.machine.geometry.pageBytes;
  const memTotalPages = real.meminfo.MemTotal !== undefined ? (real.meminfo.MemTotal * 1024) / pageBytes : undefined;
  const d = core.deriveBootReservations(real.zones, core.viewZoneinfo(modelState), memTotalPages);
  notes.push(...d.notes);
  return { ...machine, nodes: machine.nodes.map((n) => ({ ...n, reservedPages: d.reservedPages.get(n.id) ?? {} })) };
}
