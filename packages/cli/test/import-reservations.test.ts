import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readMachine } from '../src/import/read.js';
import { buildScenario } from '../src/commands/import.js';
import { BackendRegistry } from '../src/backends.js';
import { loadScenario } from '../src/scenario/load.js';
import { FIXTURES, memhp, tmp } from './helpers.js';

const HOST = join(FIXTURES, 'host-6.18');
const ARM = join(FIXTURES, 'arm64-small');

describe('memhp import fills the boot reservations from the readings', () => {
  it('gives the 6.18 host its MemTotal back: 86 MiB the kernel reserves beyond the memmap memhp computes', async () => {
    const registry = await BackendRegistry.create();
    const { text, notes } = buildScenario(readMachine(HOST), registry, {});
    const s = loadScenario('host.yaml', text);
    // fixtures/host-6.18/proc/zoneinfo: DMA present 3998 managed 3840, DMA32 present 782336 managed 772915; memhp
    // puts the memmap top-down in Normal, so these two are present − managed as read. Normal (still being
    // initialised by the host's lazy deferred init, apps/docs/kernel/readings.md#readings) comes from MemTotal 24684084 kB instead.
    expect(s.machine.nodes[0]!.reservedPages).toEqual({ DMA: 158, DMA32: 9421, Normal: 12452 });
    expect(notes.join('\n')).toContain('node 0 Normal derived from MemTotal');
    expect(text).toContain('reserved: { DMA: 632K, DMA32: 37684K, Normal: 49808K }');
    expect(text).toMatch(/meminfo: \{ MemTotal: "?24684084 kB"? \}/);
  });

  it('writes a scenario whose run matches the host MemTotal (process, --json)', async () => {
    const out = join(tmp(), 'host.yaml');
    const r = await memhp(['import', '--root', HOST, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { differences: unknown[] | null; notes: string[] };
    // apps/docs/kernel/readings.md#readings: MemTotal 24684084 kB; before boot reservations memhp said 24772208 kB (88124 kB more)
    expect(j.differences, j.notes.join('\n')).toEqual([]);
    const run = await memhp(['run', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('"MemTotal": 24684084');
  });

  it('leaves MemTotal unchecked, with a note, when zoneinfo and meminfo disagree', async () => {
    const registry = await BackendRegistry.create();
    const { text, notes } = buildScenario(readMachine(ARM), registry, { pageSize: '4K' });
    // fixtures/arm64-small: DMA present 524288, managed 508000 → 16288 reserved, of which memhp's boot memmap of
    // 2 GiB (524288 pages × 64 B / 4 KiB = 8192 pages) and its two vmemmap page-table pages are its own
    expect(loadScenario('arm.yaml', text).machine.nodes[0]!.reservedPages).toEqual({ DMA: 16288 - 8192 - 2 });
    expect(notes.join('\n')).toContain("more than MemTotal's");
    expect(text).not.toContain('MemTotal:');
  });
});
