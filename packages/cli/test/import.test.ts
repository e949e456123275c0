import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readMachine, parseIomem, parseZoneinfo } from '../src/import/read.js';
import { buildScenario, kernelFromRelease } from '../src/commands/import.js';
import { BackendRegistry } from '../src/backends.js';
import { loadScenario } from '../src/scenario/load.js';
import { FIXTURES, memhp, memhpInProcess, tmp } from './helpers.js';

const HOST = join(FIXTURES, 'host-6.18');
const ARM = join(FIXTURES, 'arm64-small');

describe('reading a machine', () => {
  const m = readMachine(HOST);

  it('reads the 6.18 host block list: 192 blocks, none in the 3–4 GiB hole', () => {
    // apps/docs/kernel/readings.md#readings: memory0…memory23 and memory32…memory199, block size 0x8000000.
    expect(m.blockSizeBytes).toBe(128n << 20n);
    expect(m.blocks.length).toBe(192);
    expect(m.blocks.find((b) => b.id === 24)).toBeUndefined();
    expect(m.blocks.find((b) => b.id === 0)?.valid_zones).toBe('none');
    expect(m.blocks.find((b) => b.id === 199)?.phys_index).toBe('000000c7');
  });

  it('reads System RAM, zones and counters as the host printed them', () => {
    // apps/docs/kernel/readings.md#readings: RAM 0x1000–0x9fbff, 0x100000–0xbfffffff, 0x100000000–0x63fffffff.
    expect(m.systemRam.map((r) => [r.start, r.end])).toEqual([
      [0x1000n, 0x9fbffn],
      [0x100000n, 0xbfffffffn],
      [0x100000000n, 0x63fffffffn],
    ]);
    // apps/docs/kernel/readings.md#readings: present DMA 3998, DMA32 782336, Normal 5505024; nr_memmap_boot_pages 98304.
    expect(m.zones.filter((z) => z.present > 0).map((z) => [z.zone, z.present])).toEqual([
      ['DMA', 3998],
      ['DMA32', 782336],
      ['Normal', 5505024],
    ]);
    expect(m.vmstat.nr_memmap_boot_pages).toBe(98304);
    expect(m.hotplugParams).toMatchObject({ memmap_on_memory: 'N', online_policy: 'contig-zones', auto_movable_ratio: '301' });
    expect(m.cpu.arch).toBe('x86_64');
  });

  it('parses only top-level iomem entries and zoneinfo fields of each zone', () => {
    expect(parseIomem('00001000-0009fbff : System RAM\n  000a0000-000bffff : PCI Bus\n')).toEqual([{ start: 0x1000n, end: 0x9fbffn, name: 'System RAM' }]);
    expect(parseZoneinfo('Node 1, zone  Movable\n  pages free 3\n        spanned  8\n        present  7\n        managed  6\n')).toEqual([
      { node: 1, zone: 'Movable', present: 7, managed: 6, spanned: 8, startPfn: null },
    ]);
  });

  it('names the missing file when --root is not a copy of /', () => {
    expect(() => readMachine(join(FIXTURES, 'bad'))).toThrow(/bad\/sys\/devices\/system\/memory\/block_size_bytes: missing/);
  });
});

describe('the scenario import writes', () => {
  it('boots the host machine again: its RAM, arch switches, kernel and struct page size', async () => {
    const registry = await BackendRegistry.create();
    const { text } = buildScenario(readMachine(HOST), registry, {});
    const s = loadScenario('host.yaml', text);
    expect(s.machine).toMatchObject({ arch: 'x86_64', kernel: '6.18.44', pageSizeBytes: 4096, structPageBytes: 64 });
    // memblock rounds 0x1000–0x9fbff to whole pages: 0x1000 + 0x9e000 (apps/docs/kernel/readings.md#readings: 1 + 97 pages of holes in DMA).
    expect(s.machine.nodes[0]!.memory.map((r) => [r.startBytes, r.sizeBytes])).toEqual([
      [0x1000n, 0x9e000n],
      [0x100000n, 0xbff00000n],
      [0x100000000n, 0x540000000n],
    ]);
    expect(s.machine.features).toEqual({ pse: true, pdpe1gb: true, la57: false, hypervisor: true });
    // The block size is left to the arch policy, which gives the host's 128 MiB (apps/docs/kernel/hotplug.md#memory-blocks: boot RAM ends below 64 GiB).
    expect(s.machine.blockSizeBytes).toBeUndefined();
    expect(s.machine.cmdline).toContain('deferred_init=lazy');
    expect(s.machine.cmdline).not.toContain('--firecracker-init');
  });

  it('carries the real readings as expect steps', async () => {
    const registry = await BackendRegistry.create();
    const data = parse(buildScenario(readMachine(HOST), registry, {}).text) as { steps: Array<{ expect: Record<string, Record<string, unknown>> }> };
    const all = Object.assign({}, ...data.steps.map((x) => x.expect));
    expect(data.steps[0]!.expect.blocks).toMatchObject({
      '0': { state: 'online', valid_zones: 'none' },
      '1-23': { valid_zones: 'DMA32' },
      '24-31': { exists: false },
      '32-199': { valid_zones: 'Normal' },
    });
    expect(all.vmstat).toEqual({ nr_memmap_boot_pages: 98304, nr_memmap_pages: 0 });
    expect(all.zoneinfo).toEqual({
      'node0/DMA': { present: 3998, spanned: 4095 },
      'node0/DMA32': { present: 782336, spanned: 1044480 },
      'node0/Normal': { present: 5505024, spanned: 5505024 },
    });
  });

  it('replays driver-managed RAM of a small arm64 machine as a hot-add on its memoryless node', async () => {
    const registry = await BackendRegistry.create();
    const { text, notes } = buildScenario(readMachine(ARM), registry, {});
    const s = loadScenario('arm.yaml', text);
    expect(s.machine).toMatchObject({ arch: 'arm64', kernel: '6.6.63' });
    expect(s.machine.nodes).toEqual([
      // reservedPages: derived from the machine's zoneinfo (import-reservations.test.ts)
      { id: 0, memory: [{ startBytes: 0x40000000n, sizeBytes: 0x80000000n }], reservedPages: expect.any(Object) },
      { id: 1, memory: [] },
    ]);
    expect(s.machine.cmdline).toContain('memory_hotplug.memmap_on_memory=1'); // from the module parameter Y
    expect(s.steps[0]).toMatchObject({ kind: 'command', commands: [{ kind: 'add_memory_driver_managed', node: 1, resourceName: 'System RAM (kmem)' }] });
    expect(notes.join('\n')).toMatch(/page size not visible/);
  });

  it('takes the exact stable release from the release string, and the series from a distribution build', () => {
    const notes: string[] = [];
    expect(kernelFromRelease('6.12.1-foo', notes)).toBe('6.12.1');
    expect(kernelFromRelease('6.1.192', notes)).toBe('6.1.192');
    expect(notes).toEqual([]);
    // Debian 12's uname -r: the 6.1.0 is an ABI name, not the stable release (that is in /proc/version)
    expect(kernelFromRelease('6.1.0-27-amd64', notes)).toBe('6.1');
    expect(notes[0]).toMatch(/does not name its stable release: using the series 6\.1/);
    const far: string[] = [];
    expect(kernelFromRelease('7.2.3', far)).toBe('6.18');
    expect(kernelFromRelease('4.19.300', far)).toBe('5.10');
    expect(far).toEqual([expect.stringMatching(/nearest older one/), expect.stringMatching(/nearest newer one/)]);
  });

  it('writes the file as a process and reports how the simulation compares', async () => {
    const out = join(tmp(), 'host.yaml');
    const r = await memhp(['import', '--root', HOST, '-o', out, '--json']);
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toMatch(/^# yaml-language-server: \$schema=/);
    const j = JSON.parse(r.stdout) as { output: string; differences: unknown[] | null; notes: string[] };
    expect(j.output).toBe(out);
    // memhp reproduces the host: block list, valid_zones, zone present/spanned, nr_memmap_boot_pages (apps/docs/kernel/readings.md#readings).
    expect(j.differences, j.notes.join('\n')).toEqual([]);
  });

  it('says where simulation and machine differ', async () => {
    // A copy of the arm64 machine whose hot-added block reads Normal although the auto-online policy
    // (memhp_default_state=online_movable) puts it in ZONE_MOVABLE (apps/docs/kernel/hotplug.md#onlining): memhp must say so.
    const root = join(tmp(), 'arm');
    cpSync(ARM, root, { recursive: true });
    writeFileSync(join(root, 'sys/devices/system/memory/memory32/valid_zones'), 'Normal\n');
    const out = join(tmp(), 'arm.yaml');
    const r = await memhpInProcess(['import', '--root', root, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { differences: Array<{ what: string; real: string; simulated: string }> | null };
    expect(j.differences).toEqual([{ what: 'memory32/valid_zones', real: 'Normal', simulated: 'Movable' }]);
  });
});
