/** Machines used across core's tests. */
import type { KernelVersion, MachineConfig } from '../../src/index.js';

export const GiB = 1n << 30n;
export const MiB = 1n << 20n;

/**
 * The 6.18 Firecracker host of apps/docs/kernel/readings.md#readings: 24 GiB of RAM with the 3–4 GiB hole, iomem System RAM
 * 0x1000–0x9fbff, 0x100000–0xbfffffff, 0x100000000–0x63fffffff.
 */
export function hostVm24G(kernel: KernelVersion = '6.18', cmdline = '', structPageBytes = 64): MachineConfig {
  return {
    arch: 'test-x86',
    pageSizeBytes: 4096,
    structPageBytes,
    kernel,
    cmdline,
    nodes: [
      {
        id: 0,
        memory: [
          { startBytes: 0x1000n, sizeBytes: 0x9fc00n - 0x1000n },
          { startBytes: 0x100000n, sizeBytes: 0xc0000000n - 0x100000n },
          { startBytes: 0x100000000n, sizeBytes: 0x640000000n - 0x100000000n },
        ],
      },
    ],
  };
}

/** A small machine: `gib` GiB of RAM from 0 on node 0, node 1 possible but memoryless. */
export function small(gib: number, kernel: KernelVersion = '6.18', cmdline = '', extra: Partial<MachineConfig> = {}): MachineConfig {
  return {
    arch: 'test-x86',
    pageSizeBytes: 4096,
    structPageBytes: 64,
    kernel,
    cmdline,
    nodes: [
      { id: 0, memory: [{ startBytes: 0n, sizeBytes: BigInt(gib) * GiB }] },
      { id: 1, memory: [] },
    ],
    ...extra,
  };
}
