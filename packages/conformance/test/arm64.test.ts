/**
 * arm64 guests without booting one: the QEMU virt command line, the boot memory map read from a real arm64 boot
 * (Debian 12's 6.1.192 cloud-arm64 under QEMU 7.2 TCG, 2 GiB on node 0 at 0x40000000, node 1 memoryless with a CPU,
 * Debian 13's edk2 2025.02), and the NUMA failure Debian 12's edk2 2022.11 causes (test/fixtures/debian-6.1-arm64-*).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_VIRTIO_PORT, earlyNodeRanges, elfMachineIs, guestShape, numaFallback, qemuArgs } from '../src/index.js';

const fx = (n: string) => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8').split('\n');
const GiB = 1n << 30n;

describe('arm64 real machine', () => {
  const shape = {
    ...guestShape(
      {
        file: 'x.yaml',
        machine: { arch: 'arm64', pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.1', cmdline: 'memhp_default_state=offline', nodes: [{ id: 0, memory: [{ startBytes: 0x40000000n, sizeBytes: 2n * GiB }] }, { id: 1, memory: [] }] },
        steps: [{ kind: 'command', index: 0, label: 'plug', step: 'plug_dimm', commands: [{ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: GiB }], where: {} }],
      },
      'arm64',
    ),
  };
  const paths = { kernelImage: 'k', initrd: 'i', qmpSock: 'q', agentSock: 'a', consoleLog: 'c' };

  it('is a virt machine with ACPI, UEFI in pflash, the console on the PL011 and the agent on a named virtio-serial port', () => {
    const a = qemuArgs(shape, { ...paths, firmwareCode: 'CODE.fd', firmwareVars: 'VARS.fd' }).join(' ');
    expect(a).toContain('-machine virt,gic-version=3,acpi=on -cpu max');
    expect(a).toContain('-drive if=pflash,format=raw,readonly=on,file=CODE.fd -drive if=pflash,format=raw,file=VARS.fd');
    expect(a).toContain('-append console=ttyAMA0 panic=-1 loglevel=4 memhp_default_state=offline');
    expect(a).toContain(`-device virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_VIRTIO_PORT}`);
    expect(a).not.toContain('-serial chardev:agent');
    // two nodes, one CPU each; 1 GiB of DIMM room plus a GiB for QEMU's alignment
    expect(a).toContain('-numa node,nodeid=0,cpus=0,memdev=ram-node0 -numa node,nodeid=1,cpus=1');
    expect(a).toContain('-m 2G,slots=1,maxmem=4G');
  });

  it('refuses an arm64 machine without firmware: ACPI (and DIMM hotplug) comes only through UEFI', () => {
    expect(() => qemuArgs(shape, paths)).toThrow(/needs UEFI firmware/);
  });

  it('reads the boot memory map with the NOMAP firmware ranges as separate present ranges of node 0', () => {
    const r = earlyNodeRanges(fx('debian-6.1-arm64-boot.dmesg'));
    expect([...r.keys()]).toEqual([0]);
    const n0 = r.get(0)!;
    // 11 "node 0" lines of the real boot; together exactly the 2 GiB QEMU gave node 0 (0x40000000–0xbfffffff)
    expect(n0).toHaveLength(11);
    expect(n0[0]).toEqual({ startBytes: 0x40000000n, sizeBytes: 0xbf0e0000n - 0x40000000n });
    expect(n0.reduce((s, x) => s + x.sizeBytes, 0n)).toBe(2n * GiB);
    expect(numaFallback(fx('debian-6.1-arm64-boot.dmesg'))).toBeNull();
  });

  it("says why a two-node machine came up with one node under Debian 12's edk2 (the flash variable store as memory)", () => {
    const d = fx('debian-6.1-arm64-edk2-2022.11.dmesg');
    expect(numaFallback(d)).toBe('NUMA: Warning: invalid memblk node 16 [mem 0x0000000004000000-0x0000000007ffffff]');
    // and that boot's memory map has the 64 MiB NOR flash bank at 0x04000000 on node 0
    expect(earlyNodeRanges(d).get(0)![0]).toEqual({ startBytes: 0x4000000n, sizeBytes: 0x4000000n });
  });

  it('tells an AArch64 busybox from an x86-64 one by the ELF header (e_machine 183 / 62)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memhp-elf-'));
    const elf = (machine: number): string => {
      const b = Buffer.alloc(64);
      b.writeUInt32BE(0x7f454c46, 0); // \x7fELF
      b.writeUInt16LE(machine, 18);
      const p = join(dir, `m${machine}`);
      writeFileSync(p, b);
      return p;
    };
    try {
      expect(elfMachineIs(elf(183), 'arm64')).toBe(true);
      expect(elfMachineIs(elf(183), 'x86_64')).toBe(false);
      expect(elfMachineIs(elf(62), 'x86_64')).toBe(true);
      expect(elfMachineIs(elf(62), 'arm64')).toBe(false);
      writeFileSync(join(dir, 'text'), 'not an ELF file at all');
      expect(elfMachineIs(join(dir, 'text'), 'arm64')).toBe(false);
      expect(elfMachineIs(join(dir, 'missing'), 'arm64')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
