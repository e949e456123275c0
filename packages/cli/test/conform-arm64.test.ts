/**
 * `memhp conform` on an arm64 guest: Debian 12's 6.1 cloud-arm64 kernel, Debian 13's UEFI firmware and Debian's
 * arm64 busybox (fetched into the user's cache on first use) on QEMU's virt machine under TCG. One boot of the
 * two-node baseline. Cost measured here (2 cores, cached downloads): 24.6 s wall at load 7 (boot 13 s); boots took
 * 23–40 s at load 15–20, once 75 s.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memhp, REPO } from './helpers.js';

const canRun = existsSync('/usr/bin/qemu-system-aarch64') && existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/dpkg');

interface Row {
  field: string;
  kernel: string;
  memhp: string;
  verdict: string;
}

describe.runIf(canRun)('memhp conform on a real arm64 6.1 kernel (one QEMU virt boot)', () => {
  it('boots two NUMA nodes on virt with UEFI and agrees with the model on the boot baseline', { timeout: 600_000 }, async () => {
    const r = await memhp(['conform', join(REPO, 'packages/conformance/scenarios/arm64-boot-two-nodes.yaml'), '--kernel', 'debian:6.1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [res] = JSON.parse(r.stdout) as [{ arch: string; kernel: { release: string; version: string }; notes: string[]; unexplained: number; steps: { rows: Row[] }[] }];
    expect(res.arch).toBe('arm64');
    expect(res.kernel.release).toMatch(/-cloud-arm64$/);
    const row = (f: string): Row => res.steps[0]!.rows.find((x) => x.field === f)!;
    // Real reading of this machine (Debian 6.1.192, QEMU 7.2 virt): 2 GiB at 0x40000000 = memory8…memory23 of
    // 128 MiB (arm64 4K: SECTION_SIZE_BITS 27), all in ZONE_DMA (below 4 GiB) of node 0; node 1 memoryless.
    expect(row('memory.blocks')).toMatchObject({ kernel: '8-23', memhp: '8-23', verdict: 'equal' });
    expect(row('zoneinfo.node0/DMA.present')).toMatchObject({ kernel: '524288', verdict: 'equal' });
    expect(row('node.has_memory')).toMatchObject({ kernel: '0', verdict: 'equal' });
    expect(res.notes.some((n) => /UEFI firmware: Debian 13/.test(n))).toBe(true);
    expect(res.unexplained).toBe(0);
  });
});
