/**
 * `memhp check hvo` renders core's explainHvo (apps/docs/kernel/hvo.md#hvo): every condition as a step, the kernel's knobs as
 * options, `--kernel all` as core's explainHvoAcrossKernels rows, exit 1 when not optimisable and 2 for bad input.
 * Through the same main() the binary runs, with the real x86_64 and arm64 backends.
 */
import { describe, expect, it } from 'vitest';
import { explainHvo } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { memhpInProcess as run } from './helpers.js';
import { toJson } from '../src/render/output.js';

const json = async (args: string[]) => {
  const r = await run(['check', 'hvo', ...args, '--json']);
  return { code: r.code, stderr: r.stderr, j: JSON.parse(r.stdout || 'null') as Record<string, unknown> };
};
type Row = { kernels: string; optimizable: boolean; freedPagesPerHugepage: number; reasons: string[] };

describe('memhp check hvo', () => {
  it('prints core’s verdict unchanged as JSON (the CLI computes nothing)', async () => {
    const { j } = await json(['--arch', 'x86_64', '--kernel', '6.1', '--hugepage-size', '1G']);
    const core = explainHvo({ backend: x86Backend, kernel: '6.1', pageSizeBytes: 4096, structPageBytes: 64, features: {}, hugepageBytes: 1n << 30n, memmapOnMemory: 'off', selfHosted: false });
    expect(j).toEqual(JSON.parse(toJson(core)));
    expect(j).toMatchObject({ vmemmapPagesPerHugepage: 4096, freedPagesPerHugepage: 4095 }); // apps/docs/kernel/hvo.md#sizes x86-64 1 GiB
  });

  it('prints every step as a table for people, with a mark per condition', async () => {
    const r = await run(['check', 'hvo', '--kernel', '6.1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/HugeTLB vmemmap optimisation \(x86_64, kernel 6\.1\): optimizable/);
    expect(r.stdout).toMatch(/Conditions:\n\s+step\s+formula\s+values/);
    for (const check of ['HVO exists in this kernel', 'ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP', 'hugepagesz=2M', 'vmemmap_optimize_enabled', 'is_power_of_2', 'optimizable_size', 'PageVmemmapSelfHosted'])
      expect(r.stdout).toMatch(new RegExp(`✓\\s+.*${check.replace(/[()]/g, '\\$&')}`));
    // apps/docs/kernel/hvo.md#sizes: w = 8, 7 freed (28 KiB = 28672 B)
    expect(r.stdout).toMatch(/w = 8, kept = 1, freed = w − kept = 7/);
    expect(r.stdout).toMatch(/freedBytesPerHugepage\s+28672/);
  });

  it('arm64 16K, 32 MiB on 6.1: 8 vmemmap pages, 7 would be freed, but HVO is not enabled — exit 1 (apps/docs/kernel/hvo.md#sizes)', async () => {
    const { code, j } = await json(['--arch', 'arm64', '--page-size', '16K', '--hugepage-size', '32M', '--kernel', '6.1']);
    expect(code).toBe(1);
    expect(j).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 0, wouldFreePagesPerHugepage: 7 });
    expect((j.reasons as string[])[0]).toMatch(/arm64 does not enable HVO/);
  });

  it('arm64 64K, 16 GiB on 6.0: 256 vmemmap pages, 255 freed = 16320 KiB (apps/docs/kernel/hvo.md#sizes)', async () => {
    const { code, j } = await json(['--arch', 'arm64', '--page-size', '64K', '--hugepage-size', '16G', '--kernel', '6.0']);
    expect(code).toBe(0);
    expect(j).toMatchObject({ vmemmapPagesPerHugepage: 256, freedPagesPerHugepage: 255, freedBytesPerHugepage: 16320 * 1024 });
  });

  it('x86-64 2 MiB across kernels: none before 5.14, 6 freed in 5.14–5.17, 7 from 5.18 (apps/docs/kernel/hvo.md#what-it-does, apps/docs/kernel/timeline.md#timeline)', async () => {
    const { code, j } = await json(['--kernel', 'all']);
    expect(code).toBe(0);
    expect((j.rows as Row[]).map((r) => [r.kernels, r.optimizable, r.freedPagesPerHugepage])).toEqual([
      ['5.10–5.13', false, 0],
      ['5.14–5.17', true, 6],
      ['5.18–6.1', true, 7],
      ['6.2–6.18', true, 7], // 6.2+: new head page (apps/docs/kernel/hvo.md#steps step 2), same net saving
    ]);
  });

  it('seed 001: a page in a self-hosting block is skipped from 6.0; 5.14–5.19 exclude the features instead (apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/memmap-on-memory.md#support)', async () => {
    const { j } = await json(['--self-hosted', '--param', 'memory_hotplug.memmap_on_memory=1', '--kernel', 'all']);
    const rows = j.rows as Row[];
    expect(rows.map((r) => [r.kernels, r.optimizable])).toEqual([
      ['5.10–5.13', false],
      ['5.14–5.17', true],
      ['5.18–5.19', true],
      ['6.0–6.18', false],
    ]);
    expect(rows[3]!.reasons[0]).toMatch(/VmemmapSelfHosted/);
  });

  it('takes hugetlb_free_vmemmap= and the sysctl the kernel way: off → exit 1; the 5.19+ sysctl switches it on', async () => {
    const off = await json(['--param', 'hugetlb_free_vmemmap=off', '--kernel', '6.1']);
    expect(off.code).toBe(1);
    expect((off.j.reasons as string[])[0]).toMatch(/HVO is switched off/);
    const sysctl = await json(['--param', 'hugetlb_free_vmemmap=off', '--sysctl', '/proc/sys/vm/hugetlb_optimize_vmemmap=1', '--kernel', '6.1']);
    expect(sysctl.code).toBe(0);
    // 5.18 has no such sysctl (apps/docs/kernel/knobs.md#runtime): the boot parameter decides
    const old = await json(['--param', 'hugetlb_free_vmemmap=off', '--sysctl', 'vm.hugetlb_optimize_vmemmap=1', '--kernel', '5.18']);
    expect(old.code).toBe(1);
    expect((old.j.notes as string[]).join()).toMatch(/does not exist before 5\.19/);
  });

  it('1 GiB pages without the CPU flag pdpe1gb: the hstate does not exist — a refusal (exit 1), not bad input', async () => {
    const { code, j } = await json(['--hugepage-size', '1G', '--feature', 'pdpe1gb=false', '--kernel', '6.1']);
    expect(code).toBe(1);
    expect(j).toMatchObject({ optimizable: false, hstate: 'needs-feature', freedPagesPerHugepage: 0 });
    expect((j.reasons as string[])[0]).toMatch(/only with the CPU feature pdpe1gb/);
  });

  it('rejects an unknown or malformed --sysctl and a malformed --param with the field, exit 2', async () => {
    const a = await run(['check', 'hvo', '--sysctl', 'vm.nr_hugepages=3']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/field --sysctl: check hvo takes only vm\.hugetlb_optimize_vmemmap=0\|1/);
    const b = await run(['check', 'hvo', '--sysctl', 'vm.hugetlb_optimize_vmemmap=yes']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/field --sysctl: vm\.hugetlb_optimize_vmemmap: invalid value "yes"/);
    const c = await run(['check', 'hvo', '--param', 'hugetlb_free_vmemmap=maybe', '--kernel', '6.1']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/field --param: .*hugetlb_free_vmemmap=maybe/);
  });
});
