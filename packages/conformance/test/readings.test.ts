/**
 * Parsing real readings. The fixtures are one boot of Debian 12's kernel (6.1.192, linux-image-6.1.0-57-amd64)
 * under QEMU 7.2 TCG, `-machine pc -m 2G` with node 0 = 2 GiB and node 1 memoryless with a CPU, as the agent
 * printed them (test/fixtures/debian-6.1-boot.*).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { earlyNodeRanges, errnoFromText, knobPath, modelKernelVersion, nodeList, parseReading, qemuArgs, guestShape } from '../src/index.js';

const fx = (n: string) => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');
const boot = parseReading(fx('debian-6.1-boot.snap'));
const dmesg = fx('debian-6.1-boot.dmesg').split('\n');

describe('readings of a real 6.1 boot', () => {
  it('reads the memory blocks in ascending order: 16 online blocks of 128 MiB on node 0', () => {
    // 2 GiB of boot RAM / 128 MiB blocks (block_size_bytes 8000000) = blocks 0–15, all online on node 0.
    expect(boot.blockSizeBytes).toBe(0x8000000n);
    expect([...boot.blocks.keys()]).toEqual([...Array(16).keys()]);
    for (const b of boot.blocks.values()) {
      expect(b.state).toBe('online');
      expect(b.node).toBe(0);
      expect(b.phys_index).toBe(b.id.toString(16).padStart(8, '0'));
    }
  });

  it('reads zoneinfo per node and zone with present, managed, spanned and the per-CPU list pages', () => {
    const dma = boot.zones.find((z) => z.node === 0 && z.zone === 'DMA')!;
    // e820 of QEMU's pc machine: RAM 0x1000–0x9efff below 1 MiB → DMA spans pfn 1–4095, 3998 pages present.
    expect(dma.spanned).toBe(4095);
    expect(dma.present).toBe(3998);
    expect(dma.start_pfn).toBe(1);
    const n1 = boot.zones.filter((z) => z.node === 1);
    expect(n1.length).toBeGreaterThan(0);
    for (const z of n1) expect([z.spanned, z.present, z.managed]).toEqual([0, 0, 0]);
    expect(boot.zones.reduce((n, z) => n + z.pcp, 0)).toBeGreaterThanOrEqual(0);
  });

  it('reads meminfo, node states and the memory_hotplug parameters as the kernel prints them', () => {
    expect(boot.meminfo.MemTotal).toBeGreaterThan(1_800_000);
    expect(boot.meminfo.HugePages_Total).toBe(0);
    expect(boot.nodeStates).toMatchObject({ possible: '0-1', online: '0-1', has_memory: '0', has_cpu: '0-1' });
    expect(boot.hotplugParams).toMatchObject({ memmap_on_memory: 'N', online_policy: 'contig-zones', auto_movable_ratio: '301' });
    expect(boot.nodeMeminfo.get(0)!.MemTotal).toBe(boot.meminfo.MemTotal);
    expect(boot.nodeMeminfo.get(1)!.MemTotal).toBe(0);
    expect(boot.hugetlb['hugepages-2048kB/nr_hugepages']).toBe('0');
    expect(boot.hugetlb['hugepages-1048576kB/nr_hugepages']).toBe('0');
  });

  it('takes the boot memory map from the "Early memory node ranges" lines (mm/page_alloc.c free_area_init, 6.1)', () => {
    const r = earlyNodeRanges(dmesg);
    expect([...r.keys()]).toEqual([0]);
    expect(r.get(0)).toEqual([
      { startBytes: 0x1000n, sizeBytes: 0x9e000n },
      { startBytes: 0x100000n, sizeBytes: 0x7fee0000n },
    ]);
  });

  it('derives the exact upstream version from /proc/version, not the compiler\'s Debian version', () => {
    const v = modelKernelVersion(fx('debian-6.1-proc-version'), '6.1.0-57-amd64');
    expect(v).toEqual({ exact: '6.1.192', version: '6.1.192' });
    // a /proc/version shaped like debian:6.12's (release 6.12.118+deb13-amd64, package 6.12.118-1; the compiler's Debian version comes first)
    expect(modelKernelVersion('Linux version 6.12.118+deb13-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0, GNU ld (GNU Binutils for Debian) 2.44) #1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1 (2026-01-01)', '6.12.118+deb13-amd64').version).toBe('6.12.118');
    const rc = modelKernelVersion('Linux version 6.13.0-rc3+ (me@box) #1', '6.13.0-rc3+');
    expect(rc).toMatchObject({ exact: '6.13.0', version: '6.13.0' });
    expect(rc.note).toMatch(/release candidate/);
  });

  it('refuses a kernel outside the series core models, naming it', () => {
    expect(() => modelKernelVersion('Linux version 4.19.0 (me@box) #1', '4.19.0')).toThrow(/kernel 4\.19\.0 .*5\.10 to 6\.18/);
  });
});

describe('small rules', () => {
  it('prints node masks as the kernel does', () => {
    expect(nodeList([])).toBe('');
    expect(nodeList([0, 1, 3, 4, 5])).toBe('0-1,3-5');
    expect(nodeList([2])).toBe('2');
  });

  it('maps the shell\'s strerror text to errno names', () => {
    expect(errnoFromText('0')).toBe('ok');
    expect(errnoFromText('Invalid argument')).toBe('EINVAL');
    expect(errnoFromText('Device or resource busy')).toBe('EBUSY');
  });

  it('writes sysctls under /proc/sys and module parameters under /sys/module', () => {
    expect(knobPath('vm.hugetlb_optimize_vmemmap')).toBe('/proc/sys/vm/hugetlb_optimize_vmemmap');
    expect(knobPath('memory_hotplug.auto_movable_ratio')).toBe('/sys/module/memory_hotplug/parameters/auto_movable_ratio');
  });

  it('shapes QEMU like the scenario: a memoryless node keeps its CPU, one socket per CPU, slots and room for DIMMs', () => {
    const shape = guestShape(
      {
        file: 'x.yaml',
        machine: { arch: 'x86_64', pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.1', cmdline: 'memhp_default_state=online', nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: 2n << 30n }] }, { id: 1, memory: [] }] },
        steps: [{ kind: 'command', index: 0, label: 'plug', step: 'plug_dimm', commands: [{ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: 1n << 30n }], where: {} }],
      } as never,
      'x86_64',
    );
    const a = qemuArgs(shape, { kernelImage: 'k', initrd: 'i', qmpSock: 'q', agentSock: 'a', consoleLog: 'c' }).join(' ');
    expect(a).toContain('-smp 2,sockets=2,cores=1,threads=1');
    expect(a).toContain('-m 2G,slots=1,maxmem=4G');
    expect(a).toContain('-numa node,nodeid=0,cpus=0,memdev=ram-node0');
    expect(a).toMatch(/-numa node,nodeid=1,cpus=1(\s|$)/);
    expect(a).toContain('memhp_default_state=online');
  });
});
