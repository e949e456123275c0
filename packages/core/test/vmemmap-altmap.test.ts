/**
 * vmem_altmap arithmetic (apps/docs/kernel/vmemmap.md#altmap, apps/docs/kernel/zone-device.md#pmem-example): next pfn, ffs alignment, padding, remaining, offset, and the
 * rule that page-table pages never come from the altmap.
 */
import { describe, expect, it } from 'vitest';
import {
  altmapAlloc,
  altmapNextPfn,
  altmapOffset,
  altmapRemaining,
  archAddMemory,
  archRemoveMemory,
  fail,
  ok,
  type AltmapFields,
  type CommandHandlers,
  type MachineState,
} from '../src/index.js';
import { GiB, small } from './support/machines.js';
import { sim } from './support/raw.js';

/** apps/docs/kernel/zone-device.md#pmem-example: 16 GiB fsdax namespace, 4K pages, 2 MiB alignment: reserve 2, free 66046. */
const NAMESPACE = { reserve: 2, free: 66046 };

describe('vmem_altmap arithmetic', () => {
  it('computes next pfn, remaining and offset', () => {
    const a: AltmapFields = { basePfn: 1000, reserve: 2, free: 100, alloc: 10, align: 6 };
    expect(altmapNextPfn(a)).toBe(1018); // base + reserve + alloc + align
    expect(altmapRemaining(a)).toBe(84); // free − (alloc + align)
    expect(altmapOffset(a)).toBe(102); // reserve + free
    expect(altmapRemaining({ ...a, alloc: 100 })).toBe(0);
  });

  it('aligns an n-page allocation to ffs(n) pfns and pads from the bump pointer', () => {
    // a 2 MiB request (512 pages) at next = base + 2 needs 510 pfns of padding (apps/docs/kernel/zone-device.md#pmem-example)
    const r = altmapAlloc({ basePfn: 0, reserve: 2, free: 66046, alloc: 0, align: 0 }, 2 << 20, 4096);
    expect(r).toEqual({ ok: true, pfn: 512, nrPages: 512, pad: 510 });
    // 3 pages → alignment 1: no padding
    expect(altmapAlloc({ basePfn: 0, reserve: 2, free: 10, alloc: 0, align: 0 }, 3 * 4096, 4096)).toMatchObject({ ok: true, pfn: 2, pad: 0 });
  });

  it('fails when n + pad exceeds what remains, and refuses sizes that are not whole pages', () => {
    expect(altmapAlloc({ basePfn: 0, reserve: 0, free: 511, alloc: 0, align: 0 }, 2 << 20, 4096)).toMatchObject({ ok: false, reason: 'altmap exhausted' });
    expect(altmapAlloc({ basePfn: 0, reserve: 0, free: 511, alloc: 0, align: 0 }, 100, 4096)).toMatchObject({ ok: false });
  });

  it('hands out 128 section memmaps of a 16 GiB namespace: alloc 65536, align 510, remaining 0', () => {
    // apps/docs/kernel/zone-device.md#pmem-example worked example
    let a: AltmapFields = { basePfn: 0, ...NAMESPACE, alloc: 0, align: 0 };
    for (let i = 0; i < 128; i++) {
      const r = altmapAlloc(a, 2 << 20, 4096);
      if (!r.ok) throw new Error(`allocation ${i} failed`);
      a = { ...a, alloc: a.alloc + r.nrPages, align: a.align + r.pad };
    }
    expect([a.alloc, a.align, altmapRemaining(a), altmapOffset(a)]).toEqual([65536, 510, 0, 66048]);
  });
});

/** memremap_pages-like caller with a device altmap (map=dev), section-aligned namespace start. */
const deviceHandlers: CommandHandlers = {
  memremap_pages: (ctx, cmd) => {
    const basePfn = Number(cmd.range.startBytes >> 12n);
    const id = ctx.state.nextAltmapId;
    ctx.emit('altmap.create', { id, basePfn, endPfn: basePfn + Number(cmd.range.sizeBytes >> 12n) - 1, ...NAMESPACE, alloc: 0, align: 0, owner: 'device' });
    const altmap = (ctx.state as MachineState).altmaps.get(id)!;
    const r = archAddMemory(ctx, cmd.node, cmd.range.startBytes, cmd.range.sizeBytes, altmap);
    return r === 0 ? ok() : fail(r, 'arch_add_memory');
  },
  memunmap_pages: (ctx, cmd) => {
    const a = [...ctx.state.altmaps.values()].find((x) => x.owner === 'device')!;
    archRemoveMemory(ctx, cmd.range!.startBytes, cmd.range!.sizeBytes, (ctx.state as MachineState).altmaps.get(a.id)!);
    ctx.emit('altmap.destroy', { id: a.id, alloc: ctx.state.altmaps.get(a.id)!.alloc, warn: ctx.state.altmaps.get(a.id)!.alloc !== 0 });
    return ok();
  },
};

describe('a device altmap through the model', () => {
  const s = sim(small(4), { commands: [deviceHandlers] });
  const start = 16n * GiB;
  const r = s.exec({ kind: 'memremap_pages', node: 0, range: { startBytes: start, sizeBytes: 16n * GiB }, type: 'fsdax' });

  it('maps all 128 section memmaps with 2 MiB leaves from the altmap, ending at alloc 65536, align 510', () => {
    expect(r.ok).toBe(true);
    const a = [...s.state.altmaps.values()][0]!;
    expect([a.alloc, a.align, altmapRemaining(a)]).toEqual([65536, 510, 0]);
    const leaves = [...s.state.vmemmap.pmds.values()].filter((e) => e.kind === 'leaf' && e.source === 'altmap');
    expect(leaves.length).toBe(128);
  });

  it('needs no page-table page here: 16 GiB at 16 GiB has its 256 MiB of vmemmap inside boot\'s PMD table', () => {
    // vmemmap offsets 256–512 MiB, under the PMD table boot allocated for offsets 0–1 GiB (apps/docs/kernel/vmemmap.md#sources)
    expect(s.state.vmemmap.tables.pmd.size).toBe(1);
    expect(s.state.counters.vmemmapBuddyPages).toBe(0);
  });

  it('takes the page-table pages from RAM, never from the altmap (apps/docs/kernel/vmemmap.md#sources)', () => {
    // at 64 GiB the memmap starts at vmemmap offset 1 GiB and needs a PMD table of its own (vmemmap_pud_populate,
    // mm/sparse-vmemmap.c, 6.1): that page comes from the page allocator, and the altmap hands out exactly the
    // 128 leaves' 65536 pages, not one page more
    const t = sim(small(4), { commands: [deviceHandlers] });
    const pmdTables = new Set(t.state.vmemmap.tables.pmd.keys());
    expect(t.exec({ kind: 'memremap_pages', node: 0, range: { startBytes: 64n * GiB, sizeBytes: 16n * GiB }, type: 'fsdax' }).ok).toBe(true);
    const added = [...t.state.vmemmap.tables.pmd].filter(([k]) => !pmdTables.has(k)).map(([, v]) => v.source);
    expect(added).toEqual(['buddy']);
    expect(t.state.counters.vmemmapBuddyPages).toBe(1);
    const a = [...t.state.altmaps.values()][0]!;
    expect([a.alloc, a.align]).toEqual([65536, 510]);
  });

  it('returns every altmap page on removal (alloc back to 0; align is never given back)', () => {
    expect(s.exec({ kind: 'memunmap_pages', range: { startBytes: start, sizeBytes: 16n * GiB } }).ok).toBe(true);
    expect(s.state.altmaps.size).toBe(0);
    expect(s.state.counters.warnings).toBe(0);
    expect(s.state.sections.has(128)).toBe(false);
  });

  it('fails the add with -ENOMEM when the altmap is one page short, with no fallback to RAM', () => {
    const t = sim(small(4), {
      commands: [
        {
          memremap_pages: (ctx, cmd) => {
            const basePfn = Number(cmd.range.startBytes >> 12n);
            const id = ctx.state.nextAltmapId;
            ctx.emit('altmap.create', { id, basePfn, endPfn: basePfn, reserve: 2, free: 66045, alloc: 0, align: 0, owner: 'device' });
            const e = archAddMemory(ctx, 0, cmd.range.startBytes, cmd.range.sizeBytes, (ctx.state as MachineState).altmaps.get(id)!);
            return e === 0 ? ok() : fail(e, 'x');
          },
        },
      ],
    });
    const rr = t.exec({ kind: 'memremap_pages', node: 0, range: { startBytes: start, sizeBytes: 16n * GiB }, type: 'fsdax' });
    expect(rr).toMatchObject({ ok: false, errno: 'ENOMEM' });
    // the last section's 512 pages did not fit (apps/docs/kernel/vmemmap.md#x86-populate: an altmap never falls back to RAM)
    expect(t.state.counters.vmemmapBuddyPages).toBe(0);
  });
});
