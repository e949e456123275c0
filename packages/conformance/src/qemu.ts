/**
 * A real machine shaped like the scenario's: QEMU with its NUMA nodes (one CPU each, so a node without memory
 * still has a CPU), boot memory, DIMM slots and maxmem, virtio-mem devices, the kernel command line, the
 * console on the first serial port (to a file) and the agent on the second (x86-64 `pc`), or on arm64 `virt`
 * with UEFI firmware (pflash) and ACPI, the console on the PL011 and the agent on a virtio-serial port. KVM when /dev/kvm works and a
 * guest comes up in time, else TCG; every wait is bounded and QEMU is stopped by its own PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from './agent-client.js';
import { GuestError, ConformanceUnavailableError } from './errors.js';
import type { Aarch64Firmware, ConformArch } from './kernel-fetch.js';
import { Qmp } from './qmp.js';

export interface GuestNode {
  readonly id: number;
  /** Boot RAM of the node (0 for a memoryless node). */
  readonly memoryBytes: bigint;
}

export interface GuestVirtioMem {
  readonly id: string;
  readonly node: number;
  readonly regionBytes: bigint;
  readonly blockBytes?: bigint;
}

export interface GuestShape {
  readonly arch: ConformArch;
  readonly nodes: readonly GuestNode[];
  /** The scenario's command line; the console and panic settings are added in front. */
  readonly cmdline: string;
  readonly dimmSlots: number;
  /** Room for every device the steps plug (maxmem - boot RAM). */
  readonly deviceBytes: bigint;
  readonly virtioMem: readonly GuestVirtioMem[];
}

export type Accel = 'kvm' | 'tcg';

export interface BootOptions {
  readonly kernelImage: string;
  readonly initrd: string;
  /** Budget for the agent to say ready; TCG boots take 10–30 s on a loaded 2-core machine. */
  readonly bootTimeoutMs?: number;
  /** Force an accelerator (tests); default: KVM if usable, falling back to TCG. */
  readonly accel?: Accel;
  /** arm64: the UEFI firmware (its variable store is copied into the guest's temporary directory). */
  readonly firmware?: Aarch64Firmware;
}

/** The name of the virtio-serial port the agent speaks on where the machine has no second UART (arm64 virt). */
export const AGENT_VIRTIO_PORT = 'memhp.agent';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/** /dev/kvm present and openable read-write (the first half of the probe; the second is a bounded boot). */
export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const sizeArg = (b: bigint): string => (b % GiB === 0n ? `${b / GiB}G` : b % MiB === 0n ? `${b / MiB}M` : `${b}`);

export function qemuBinary(arch: ConformArch): string {
  return arch === 'x86_64' ? 'qemu-system-x86_64' : 'qemu-system-aarch64';
}

/** The QEMU command line for a shape (without the accelerator). */
export function qemuArgs(
  shape: GuestShape,
  o: { kernelImage: string; initrd: string; qmpSock: string; agentSock: string; consoleLog: string; firmwareCode?: string; firmwareVars?: string },
): string[] {
  const boot = shape.nodes.reduce((n, x) => n + x.memoryBytes, 0n);
  if (boot === 0n) throw new ConformanceUnavailableError('the machine has no boot memory');
  const maxmem = boot + shape.deviceBytes + shape.virtioMem.reduce((n, v) => n + v.regionBytes, 0n);
  const args: string[] = [];
  const arm = shape.arch === 'arm64';
  if (arm) {
    if (!o.firmwareCode || !o.firmwareVars) throw new ConformanceUnavailableError('an arm64 guest needs UEFI firmware (ACPI, and with it DIMM hotplug, comes only through UEFI on virt)');
    // virt with ACPI (GED memory hotplug) through UEFI; GICv3 for the ITS (MSI for virtio-pci); -cpu max under
    // TCG (48-bit PA), the host CPU under KVM.
    args.push('-machine', 'virt,gic-version=3,acpi=on', '-cpu', 'max');
    args.push('-drive', `if=pflash,format=raw,readonly=on,file=${o.firmwareCode}`, '-drive', `if=pflash,format=raw,file=${o.firmwareVars}`);
  } else args.push('-machine', 'pc', '-cpu', 'max');
  // One socket per CPU: CPUs of one package on different nodes make the kernel WARN (topology_sane).
  args.push('-smp', `${shape.nodes.length},sockets=${shape.nodes.length},cores=1,threads=1`);
  const slots = Math.max(1, shape.dimmSlots + shape.virtioMem.length);
  args.push('-m', `${sizeArg(boot)},slots=${slots},maxmem=${sizeArg(maxmem > boot ? maxmem : boot + GiB)}`);
  shape.nodes.forEach((n, cpu) => {
    if (n.memoryBytes > 0n) {
      args.push('-object', `memory-backend-ram,id=ram-node${n.id},size=${sizeArg(n.memoryBytes)}`);
      args.push('-numa', `node,nodeid=${n.id},cpus=${cpu},memdev=ram-node${n.id}`);
    } else args.push('-numa', `node,nodeid=${n.id},cpus=${cpu}`);
  });
  for (const v of shape.virtioMem) {
    args.push('-object', `memory-backend-ram,id=vmem-${v.id},size=${sizeArg(v.regionBytes)}`);
    args.push('-device', `virtio-mem-pci,id=${v.id},memdev=vmem-${v.id},node=${v.node},requested-size=0${v.blockBytes ? `,block-size=${sizeArg(v.blockBytes)}` : ''}`);
  }
  args.push('-nodefaults', '-display', 'none', '-no-reboot', '-no-user-config');
  args.push('-kernel', o.kernelImage, '-initrd', o.initrd);
  // no_timer_check: under TCG on a loaded host the IO-APIC timer check can fail and panic the boot
  // ("IO-APIC + timer doesn't work!"), seen here at load 20 on 2 cores; it changes nothing memhp compares.
  if (arm) {
    // virt has one PL011 UART: it stays the kernel console; the agent speaks on a named virtio-serial port.
    args.push('-append', `console=ttyAMA0 panic=-1 loglevel=4 ${shape.cmdline}`.trim());
    args.push('-serial', `file:${o.consoleLog}`);
    args.push('-device', 'virtio-serial-pci,id=vser0', '-chardev', `socket,id=agent,path=${o.agentSock},server=on,wait=off`);
    args.push('-device', `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_VIRTIO_PORT}`);
  } else {
    args.push('-append', `console=ttyS0 panic=-1 loglevel=4 no_timer_check ${shape.cmdline}`.trim());
    args.push('-serial', `file:${o.consoleLog}`);
    args.push('-chardev', `socket,id=agent,path=${o.agentSock},server=on,wait=off`, '-serial', 'chardev:agent');
  }
  args.push('-qmp', `unix:${o.qmpSock},server=on,wait=off`);
  return args;
}

/** A running guest: QMP, the agent, and the console log. `stop()` kills QEMU by its PID and removes its files. */
export class Guest {
  private constructor(
    readonly proc: ChildProcess,
    readonly qmp: Qmp,
    readonly agent: Agent,
    readonly accel: Accel,
    readonly bootMs: number,
    private readonly dir: string,
    readonly args: readonly string[],
  ) {}

  consoleTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'console.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  static async boot(shape: GuestShape, o: BootOptions): Promise<Guest> {
    const accels: Accel[] = o.accel ? [o.accel] : kvmUsable() ? ['kvm', 'tcg'] : ['tcg'];
    let lastErr: Error | undefined;
    // TCG gets a second try: a boot on a heavily loaded host can fail for reasons of timing alone.
    const attempts = accels.flatMap((a) => (a === 'tcg' ? [a, a] : [a]));
    for (const accel of attempts) {
      // A KVM guest is up in seconds; nested KVM can hang silently, so its budget is short before TCG is tried.
      const budget = accel === 'kvm' && accels.length > 1 ? 30_000 : (o.bootTimeoutMs ?? 180_000);
      try {
        return await Guest.bootWith(shape, o, accel, budget);
      } catch (e) {
        lastErr = e as Error;
        if (e instanceof ConformanceUnavailableError) break;
      }
    }
    throw lastErr ?? new GuestError('QEMU did not start');
  }

  private static async bootWith(shape: GuestShape, o: BootOptions, accel: Accel, budgetMs: number): Promise<Guest> {
    const bin = qemuBinary(shape.arch);
    const dir = mkdtempSync(join(tmpdir(), 'memhp-qemu-'));
    const paths = { qmpSock: join(dir, 'qmp.sock'), agentSock: join(dir, 'agent.sock'), consoleLog: join(dir, 'console.log') };
    let fw: { firmwareCode?: string; firmwareVars?: string } = {};
    if (o.firmware) {
      // The variable store is written by the firmware: each boot gets its own copy.
      copyFileSync(o.firmware.vars, join(dir, 'vars.fd'));
      fw = { firmwareCode: o.firmware.code, firmwareVars: join(dir, 'vars.fd') };
    }
    let args: string[];
    try {
      args = ['-accel', accel, ...qemuArgs(shape, { kernelImage: o.kernelImage, initrd: o.initrd, ...paths, ...fw })];
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const t0 = Date.now();
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let exited = false;
    let spawnError: Error | null = null;
    proc.on('error', (e) => {
      spawnError = e;
      exited = true;
    });
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', () => (exited = true));
    const killer = () => proc.pid !== undefined && !exited && process.kill(proc.pid, 'SIGKILL');
    process.once('exit', killer);
    // one listener per guest: drop it when QEMU is gone, or a matrix run piles them up on the process
    proc.once('exit', () => process.removeListener('exit', killer));
    const fail = (msg: string): never => {
      killer();
      let tail = '';
      try {
        tail = existsSync(paths.consoleLog) ? readFileSync(paths.consoleLog, 'utf8').split('\n').slice(-25).join('\n') : '';
      } catch {
        /* no console yet */
      }
      rmSync(dir, { recursive: true, force: true });
      if (spawnError) throw new ConformanceUnavailableError(`cannot run ${bin}: ${(spawnError as Error).message} (apt-get install -y ${shape.arch === 'arm64' ? 'qemu-system-arm' : 'qemu-system-x86'})`);
      throw new GuestError(`${msg}${stderr.trim() ? `\nqemu: ${stderr.trim()}` : ''}`, tail);
    };
    let qmp: Qmp;
    let agent: Agent;
    try {
      qmp = await Qmp.connect(paths.qmpSock, 15_000, () => !exited);
      agent = await Agent.connect(paths.agentSock, budgetMs, () => !exited);
    } catch (e) {
      return fail(`${accel.toUpperCase()} guest did not come up: ${(e as Error).message}`);
    }
    return new Guest(proc, qmp, agent, accel, Date.now() - t0, dir, [bin, ...args]);
  }

  /** Power off through the agent, then kill QEMU by its PID if it is still there after a bounded wait. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((r) => (this.proc.exitCode !== null || this.proc.signalCode !== null ? r() : this.proc.once('exit', () => r())));
    try {
      await this.agent.request('poweroff', '', 5000);
    } catch {
      /* the guest is going down either way */
    }
    const t = setTimeout(() => this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    this.agent.close();
    this.qmp.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
