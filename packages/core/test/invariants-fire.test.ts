/**
 * The invariant checker fires: for each invariant of invariants/check.ts, a command that emits crafted events
 * (or, where no event can reach the broken state, an applier planted for the test) leaves a state that breaks
 * exactly that invariant, and the simulator throws an InvariantViolation naming it. Every other core test runs
 * with checkInvariants on, so these are what show that "keeps every invariant" can fail.
 */
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  COMMAND_INVARIANTS,
  createSimulator,
  hex,
  InvariantViolation,
  ok,
  pfnToPageVa,
  sectionNrToPfn,
  STEP_INVARIANTS,
  type CommandHandlers,
  type KernelCtx,
  type MachineState,
  type Simulator,
} from '../src/index.js';
import { small } from './support/machines.js';
import { testBackend } from './support/test-backend.js';

type Steps = (ctx: KernelCtx, s: MachineState) => void;

/** A machine whose `memremap_pages` command runs `steps` instead of the kernel's: the crafted events. */
function crafted(steps: Steps, extra: Partial<Parameters<typeof createSimulator>[0]> = {}): Simulator {
  const commands: CommandHandlers = {
    memremap_pages: (ctx) => {
      steps(ctx, ctx.state as MachineState);
      return ok();
    },
  };
  return createSimulator({ config: small(2), backend: testBackend, checkInvariants: true, commands: [commands], ...extra });
}

const run = (s: Simulator) => s.exec({ kind: 'memremap_pages', node: 0, range: { startBytes: 0n, sizeBytes: 0n }, type: 'devdax' });

const ALL = [...STEP_INVARIANTS, ...COMMAND_INVARIANTS];
const NAMES = ALL.map(([n]) => n);

/**
 * The violation the crafted command throws (fails the test when none is thrown), after checking that the state it
 * left breaks that invariant and no other.
 */
function violation(s: Simulator): InvariantViolation {
  try {
    run(s);
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err;
    const broken = ALL.filter(([, f]) => f(s.state as MachineState) !== null).map(([n]) => n);
    expect(broken).toEqual([err.invariant]);
    return err;
  }
  throw new Error('no invariant fired');
}

describe('each invariant fires on a state that breaks it, and only it', () => {
  it('lists the seven invariants these tests break', () => {
    expect(NAMES).toEqual([
      'busy resources do not overlap',
      'altmap alloc + align ≤ free',
      'present valid sections have their memmap mapped',
      'vmemmap page-table entry counts',
      'counters match the state',
      'memory blocks cover present sections',
      'lookup tables mirror their maps',
    ]);
  });

  it('the crafted command with no events keeps every invariant (the harness itself is clean)', () => {
    const s = crafted(() => {});
    expect(run(s)).toEqual({ ok: true });
  });

  it('"busy resources do not overlap": a second busy System RAM resource over boot RAM, right after the event', () => {
    const s = crafted((ctx, st) => {
      ctx.emit('resource.request', {
        id: st.nextResourceId,
        start: hex(0x1000_0000n),
        end: hex(0x1fff_ffffn),
        name: 'System RAM',
        flags: ['system_ram', 'busy'],
        boot: false,
        result: 0,
        conflict: null,
      });
    });
    const v = violation(s);
    expect(v.invariant).toBe('busy resources do not overlap');
    // a step invariant: it fires on the event itself, not at command.end
    expect(v.eventType).toBe('resource.request');
    expect(v.detail).toBe('System RAM and System RAM overlap at 0x10000000');
  });

  it('"altmap alloc + align ≤ free": an altmap whose alignment padding exceeds its free pages', () => {
    const s = crafted((ctx) => {
      ctx.emit('altmap.create', { id: 7, basePfn: 0x80000, endPfn: 0x88000, reserve: 0, free: 4, align: 8, alloc: 0, owner: 'device' });
    });
    const v = violation(s);
    expect(v.invariant).toBe('altmap alloc + align ≤ free');
    expect(v.eventType).toBe('altmap.create');
    expect(v.detail).toBe('altmap 7: alloc 0 + align 8 > free 4');
  });

  it('"present valid sections have their memmap mapped": a hot-added section whose memmap was never populated', () => {
    // section 24 (3 GiB, past the 2 GiB of RAM): present, one sub-section set, HAS_MEM_MAP, accounted, no vmemmap
    const s = crafted((ctx) => {
      const g = ctx.machine.geometry;
      ctx.emit('section.mark_present', { section: 24, nid: 0, boot: false });
      ctx.emit('subsection.fill', { section: 24, pfn: sectionNrToPfn(g, 24), nrPages: 512, mask: '0x1', before: '0x0', after: '0x1', result: 0 });
      // 512 pages × 64-byte struct page = 8 pages of memmap (apps/docs/kernel/sparse.md#section-flags)
      ctx.emit('section.set_memmap', { section: 24, early: false, memmapPages: 8, account: 'hotplug' });
    });
    const v = violation(s);
    expect(v.invariant).toBe('present valid sections have their memmap mapped');
    expect(v.eventType).toBe('command.end');
    expect(v.detail).toBe('section 24 sub-section 0: memmap not mapped');
  });

  it('"present valid sections have their memmap mapped": sub-section bits on a section that is not present', () => {
    const s = crafted((ctx) => {
      const g = ctx.machine.geometry;
      ctx.emit('subsection.fill', { section: 25, pfn: sectionNrToPfn(g, 25), nrPages: 512, mask: '0x1', before: '0x0', after: '0x1', result: 0 });
    });
    const v = violation(s);
    expect(v.invariant).toBe('present valid sections have their memmap mapped');
    expect(v.detail).toBe('section 25 has sub-section bits but is not present');
  });

  it('"vmemmap page-table entry counts": a PMD leaf mapped over a PTE table counts the PMD entry twice', () => {
    // a PMD index past every section's memmap: no memmap, counter or block invariant is touched
    let pmdTables = 0;
    const s = crafted((ctx, st) => {
      const g = ctx.machine.geometry;
      const va = pfnToPageVa(g, sectionNrToPfn(g, 64));
      const idx = Number(va >> BigInt(g.pmdShift));
      ctx.emit('vmemmap.pgtable_alloc', { level: 'pte', index: idx, va: hex(va), node: 0, source: 'buddy' });
      pmdTables = st.vmemmap.tables.pmd.size;
      ctx.emit('vmemmap.populate', { start: hex(va), end: hex(va + (1n << BigInt(g.pmdShift))), granularity: 'pmd', source: 'buddy', node: 0, altmapId: null, fallback: null });
    });
    const v = violation(s);
    expect(pmdTables).toBeGreaterThan(0);
    expect(v.invariant).toBe('vmemmap page-table entry counts');
    expect(v.eventType).toBe('command.end');
    const [, recorded, present] = /^pmd table \d+: (\d+) entries recorded, (\d+) present$/.exec(v.detail)!;
    expect(Number(recorded) - Number(present)).toBe(1);
  });

  it('"counters match the state": nr_memmap_boot_pages released with no early section gone', () => {
    const s = crafted((ctx) => {
      ctx.emit('section.memmap_release', { section: 0, pfn: 0, nrPages: 512, memmapPages: 8, account: 'boot' });
    });
    const v = violation(s);
    expect(v.invariant).toBe('counters match the state');
    // 2 GiB of boot RAM = 16 early sections × 512 memmap pages (32768 pages × 64 B / 4 KiB; apps/docs/kernel/sparse.md#section-flags)
    expect(v.detail).toBe('nr_memmap_boot_pages 8184 ≠ 16 early sections × 512 + HVO 0');
  });

  it('"counters match the state": zone.managed applied without totalram_pages (a planted applier) leaves totalram ≠ Σ managed', () => {
    const s = crafted((ctx) => {
      ctx.emit('zone.managed', { nid: 0, zone: 'DMA32', delta: 1 });
    }, {
      appliers: [
        {
          // planted bug: zone.managed forgets totalram_pages
          'zone.managed': (st: MachineState, p: { nid: number; zone: 'DMA32'; delta: number }) => {
            const z = st.nodes.get(p.nid)!.zones.get(p.zone)!;
            z.managedPages += p.delta;
          },
        } as never,
      ],
    });
    const v = violation(s);
    expect(v.invariant).toBe('counters match the state');
    expect(v.detail).toMatch(/^totalram (\d+) ≠ Σ managed (\d+)$/);
    const [, a, b] = /^totalram (\d+) ≠ Σ managed (\d+)$/.exec(v.detail)!;
    expect(Number(b) - Number(a)).toBe(1);
  });

  it('"memory blocks cover present sections": a hot-plugged memory block over sections that are not present', () => {
    const s = crafted((ctx) => {
      ctx.emit('memory_block.create', {
        id: 40,
        nid: 0,
        state: 'offline',
        zone: null,
        early: false,
        nrVmemmapPages: 0,
        altmapId: null,
        group: null,
      } as never);
    });
    const v = violation(s);
    expect(v.invariant).toBe('memory blocks cover present sections');
    expect(v.detail).toBe('memory block 40: section 40 is not present');
  });

  it('"lookup tables mirror their maps": an applier that writes a section behind the table map\'s count', () => {
    // no core event can do this (every applier goes through the TableMap); a planted applier of a test event can
    const s = crafted(
      (ctx) => {
        ctx.emitOther('test.corrupt', {});
      },
      {
        eventDefs: [{ type: 'test.corrupt', version: 1, description: 'writes a section slot directly', schema: Type.Object({}) } as never],
        appliers: [
          {
            'test.corrupt': (st: MachineState) => {
              st.sectionTable[30] = { flags: 0, subsectionMap: 0n, usage: 'slab', nid: 0 };
            },
          } as never,
        ],
      },
    );
    const v = violation(s);
    expect(v.invariant).toBe('lookup tables mirror their maps');
    expect(v.detail).toMatch(/^sections: \d+ table entries, counted \d+$/);
  });
});
