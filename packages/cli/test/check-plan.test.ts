/**
 * check, plan, params, events, diff: the JSON each command documents (issue 6 field names) and its exit code.
 * Through the same main() the binary runs; expected numbers cite the kernel reference (apps/docs/kernel/).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { memhpInProcess as run } from './helpers.js';
import { FIXTURES, memhp, tmp } from './helpers.js';

const json = async (args: string[]) => {
  const r = await run([...args, '--json']);
  return { code: r.code, stderr: r.stderr, j: JSON.parse(r.stdout || 'null') as Record<string, unknown> };
};

describe('check memmap-on-memory', () => {
  it('x86-64 4K, 128 MiB block: supported, 512 vmemmap pages, 32256 usable (apps/docs/kernel/memmap-on-memory.md#examples row 1), exit 0', async () => {
    const { code, j } = await json(['check', 'memmap-on-memory', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(code).toBe(0);
    expect(j).toMatchObject({ supported: true, vmemmapBytes: 2097152, vmemmapPages: 512, usablePages: 32256, wastedPages: 0, kernel: '6.1', reasons: [] });
    expect((j.steps as unknown[]).length).toBeGreaterThan(3);
  });

  it('x86-64 with 56-byte struct page: not supported, with the reason, exit 1 (apps/docs/kernel/memmap-on-memory.md#examples row 2)', async () => {
    const { code, j } = await json(['check', 'memmap-on-memory', '--arch', 'x86', '--struct-page', '56', '--kernel', '6.1']);
    expect(code).toBe(1);
    expect(j.supported).toBe(false);
    expect(j.vmemmapBytes).toBe(1835008);
    expect((j.reasons as string[]).join(' ')).toMatch(/PMD/);
  });

  it('2 GiB blocks with 56-byte struct page are supported: 7168 pages (apps/docs/kernel/memmap-on-memory.md#examples row 4)', async () => {
    const { code, j } = await json(['check', 'memmap-on-memory', '--struct-page', '56', '--block-size', '2G', '--kernel', '6.1']);
    expect(code).toBe(0);
    expect(j).toMatchObject({ supported: true, vmemmapPages: 7168 });
  });

  it('arm64 64K with --kernel all: one row per version range, never supported, exit 1 (apps/docs/kernel/memmap-on-memory.md#examples rows 8–9)', async () => {
    const { code, j } = await json(['check', 'memmap-on-memory', '--arch', 'aarch64', '--page-size', '64K', '--struct-page', '56', '--kernel', 'all']);
    expect(code).toBe(1);
    const rows = j.rows as Array<{ kernels: string; supported: boolean }>;
    expect(rows.every((r) => !r.supported)).toBe(true);
    // 5.10–5.12 have no memmap_on_memory, and 5.12 shrank arm64 64K sections from 1 GiB to 512 MiB (apps/docs/kernel/timeline.md#timeline),
    // which changes the block's memmap; the 6.6 predicate (pages, force, arch hook) differs from 5.13's (apps/docs/kernel/memmap-on-memory.md#support).
    expect(rows.map((r) => r.kernels)).toEqual(['5.10–5.11', '5.12', '5.13–6.5', '6.6–6.18']);
  });

  it('reads --param the kernel way: force rounds up and wastes pages on 6.6+ (apps/docs/kernel/memmap-on-memory.md#support)', async () => {
    const { j } = await json(['check', 'memmap-on-memory', '--arch', 'arm64', '--page-size', '16K', '--param', 'memory_hotplug.memmap_on_memory=force', '--kernel', '6.6']);
    // apps/docs/kernel/memmap-on-memory.md#examples row 7: force → 2048 pages, but the PMD check still fails.
    expect(j.supported).toBe(false);
    expect(JSON.stringify(j)).toMatch(/2048/);
  });

  it('rejects a malformed kernel parameter with the allowed values, exit 2', async () => {
    const r = await run(['check', 'memmap-on-memory', '--param', 'memory_hotplug.memmap_on_memory=maybe', '--kernel', '6.6']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field --param: kernel command line: "memory_hotplug\.memmap_on_memory=maybe"/);
  });

  it('prints the arithmetic for people', async () => {
    const r = await run(['check', 'memmap-on-memory']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/memmap_on_memory \(kernel 6\.18\): supported/);
    expect(r.stdout).toMatch(/Arithmetic:\n\s+· memory block and memmap size/);
    expect(r.stdout).toMatch(/✓ /);
  });
});

describe('check hvo', () => {
  it('x86-64 2 MiB pages: 8 vmemmap pages, 7 freed (apps/docs/kernel/hvo.md#sizes), exit 0', async () => {
    const { code, j } = await json(['check', 'hvo', '--arch', 'x86_64']);
    expect(code).toBe(0);
    expect(j).toMatchObject({ optimizable: true, vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 7, reasons: [] });
  });

  it('x86-64 1 GiB pages: 4096 vmemmap pages, 4095 freed = 16380 KiB (apps/docs/kernel/hvo.md#sizes, apps/docs/kernel/readings.md#readings dmesg)', async () => {
    const { j } = await json(['check', 'hvo', '--hugepage-size', '1G']);
    expect(j).toMatchObject({ vmemmapPagesPerHugepage: 4096, freedPagesPerHugepage: 4095, freedBytesPerHugepage: 16380 * 1024 });
  });

  it('5.14–5.17 kept two pages: 6 freed per 2 MiB page (apps/docs/kernel/hvo.md#what-it-does)', async () => {
    const { j } = await json(['check', 'hvo', '--kernel', '5.14']);
    expect(j).toMatchObject({ optimizable: true, freedPagesPerHugepage: 6 });
  });

  it('a 56-byte struct page frees nothing, with the reason, exit 1 (apps/docs/kernel/hvo.md#conditions item 3)', async () => {
    const { code, j } = await json(['check', 'hvo', '--struct-page', '56']);
    expect(code).toBe(1);
    expect(j).toMatchObject({ optimizable: false, freedPagesPerHugepage: 0 });
    expect((j.reasons as string[])[0]).toMatch(/not a power of two/);
  });

  it('arm64 across kernels: enabled only in 5.19–6.0 (apps/docs/kernel/hvo.md#sizes)', async () => {
    const { j } = await json(['check', 'hvo', '--arch', 'arm64', '--kernel', 'all']);
    const rows = j.rows as Array<{ kernels: string; optimizable: boolean }>;
    expect(rows.filter((r) => r.optimizable).map((r) => r.kernels)).toEqual(['5.19–6.0']);
  });

  it('rejects a HugeTLB size the arch does not have, listing the ones it has, exit 2', async () => {
    const r = await run(['check', 'hvo', '--hugepage-size', '32M']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field --hugepage-size: x86_64 with 4K pages has no 32M HugeTLB size; it has 2M, 1G/);
  });
});

describe('plan hot-add', () => {
  it('12 GiB with the memmap in RAM needs 192 MiB free (apps/docs/kernel/memmap-on-memory.md#lifecycle: 2 MiB per 128 MiB block); 100 MiB is not enough, exit 1', async () => {
    const { code, j } = await json(['plan', 'hot-add', '--size', '12G', '--free', '100M']);
    expect(code).toBe(1);
    expect(j).toMatchObject({ blocks: 96, memmapBytes: 201326592, feasible: false });
    expect(j.freeBytesNeeded as number).toBeGreaterThanOrEqual(201326592);
  });

  it('with memmap_on_memory the memmap needs no free RAM and the add fits (apps/docs/kernel/memmap-on-memory.md#accounting)', async () => {
    const { code, j } = await json(['plan', 'hot-add', '--size', '12G', '--free', '100M', '--memmap-on-memory']);
    expect(code).toBe(0);
    expect(j).toMatchObject({ blocks: 96, memmapBytes: 201326592, memmapSource: 'altmap', feasible: true });
    expect(j.freeBytesNeeded as number).toBeLessThan(1 << 20);
  });

  it('requires --size and checks it', async () => {
    expect((await run(['plan', 'hot-add'])).code).toBe(2);
    const r = await run(['plan', 'hot-add', '--size', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('field --size: not a size: "lots"');
  });
});

describe('params and events', () => {
  it('lists the kernel parameters with defaults and the arch switches (apps/docs/kernel/knobs.md#cmdline)', async () => {
    const { code, j } = await json(['params', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(code).toBe(0);
    const params = j.params as Array<{ name: string; scope: string; default: string }>;
    expect(params.find((p) => p.name === 'memory_hotplug.auto_movable_ratio')?.default).toBe('301');
    expect(params.some((p) => p.scope === 'x86_64' && p.name === 'pse')).toBe(true);
  });

  it('lists the event catalogue with JSON Schemas', async () => {
    const { code, j } = await json(['events', '--type', 'vmemmap.populate']);
    expect(code).toBe(0);
    const [e] = j.events as Array<{ type: string; version: number; schema: { properties: Record<string, unknown> } }>;
    expect(e?.type).toBe('vmemmap.populate');
    expect(Object.keys(e!.schema.properties)).toEqual(expect.arrayContaining(['start', 'end', 'granularity', 'source']));
    expect((await run(['events', '--type', 'nope'])).code).toBe(2);
  });
});

describe('diff', () => {
  it('finds the first diverging event and the counter differences of two runs (as a process)', async () => {
    const dir = tmp();
    const scenario = join(FIXTURES, 'scenarios/small.yaml');
    const [a, b] = [join(dir, 'a.ndjson'), join(dir, 'b.ndjson')];
    await Promise.all([memhp(['run', scenario, '-o', a]), memhp(['run', scenario, '-o', b, '--kernel', '6.1'])]);
    const same = await run(['diff', a, a, '--json']);
    expect(JSON.parse(same.stdout)).toMatchObject({ identical: true, firstDivergence: null });
    const d = await run(['diff', a, b, '--json']);
    expect(d.code).toBe(0);
    const j = JSON.parse(d.stdout) as { identical: boolean; header: Array<{ field: string }>; counters: Array<{ group: string; key: string }> };
    expect(j.identical).toBe(false);
    expect(j.header.map((h) => h.field)).toContain('kernel');
    // 6.1 has no nr_memmap_* counters (apps/docs/kernel/user-space.md#vmstat: 6.11+).
    expect(j.counters.filter((c) => c.group === 'vmstat').map((c) => c.key)).toEqual(expect.arrayContaining(['nr_memmap_pages', 'nr_memmap_boot_pages']));
  });
});
