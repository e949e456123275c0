/**
 * The kit must be able to fail: each mutant below breaks one kernel rule, and the check that guards that rule
 * must report it. The mutants start from the x86 backend (apps/docs/kernel/vmemmap.md#x86-populate) and change one thing; the round-trip,
 * altmap, fallback and replay checks run them inside core's simulator (createSimulator), so each failure below is
 * seen in core's state and recorded events.
 */
import { describe, expect, it } from 'vitest';
import type { ArchBackend, ArchConfig } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { arm64Backend } from '@memhp/arch-arm64';
import { CONFORMANCE_CHECKS, checkBackend, runCheck } from '../src/checks.js';

const cfg: ArchConfig = { pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.1', features: {} };
const check = (name: string) => {
  const c = CONFORMANCE_CHECKS.find((x) => x.name.startsWith(name));
  if (!c) throw new Error(`no check ${name}`);
  return c;
};
const problemsOf = (b: ArchBackend, name: string, config: ArchConfig = cfg) => runCheck(check(name), b, config).problems;

describe('the conformance kit', () => {
  it('passes the unmodified x86 backend on 6.1 (baseline for the mutants below)', () => {
    const r = checkBackend(x86Backend, { kernels: ['6.1'], checkInvariants: true });
    expect(r.ok).toBe(true);
    expect(r.results).toHaveLength(CONFORMANCE_CHECKS.length);
  });

  it('reports a backend whose vmemmap_free forgets page-table pages and leaves', () => {
    const leaky: ArchBackend = { ...x86Backend, vmemmapFree: () => undefined };
    expect(problemsOf(leaky, 'populate/depopulate').join('\n')).toMatch(/PMD leaves still mapped/);
  });

  it('reports an altmap that silently falls back to RAM (apps/docs/kernel/vmemmap.md#sources: never)', () => {
    const fallsBack: ArchBackend = {
      ...x86Backend,
      vmemmapPopulate: (ctx, s, e, n, altmap) => {
        const r = x86Backend.vmemmapPopulate(ctx, s, e, n, altmap);
        return r === 'ENOMEM' ? ctx.populateBasePages(s, e, n, null, 'mutant: RAM fallback') : r;
      },
    };
    expect(problemsOf(fallsBack, 'altmap accounting').join('\n')).toMatch(/expected ENOMEM|fell back to RAM/);
  });

  it('reports a fallback that skips the PMD whose allocation failed', () => {
    const skips: ArchBackend = {
      ...x86Backend,
      vmemmapPopulate: (ctx, s, e, n, altmap) => {
        const pmd = 1n << BigInt(ctx.constants.pmdShift);
        for (let a = s; a < e; a += pmd) {
          const b = ctx.allocPmdBlock(a, n, altmap);
          if (b) ctx.mapPmdLeaf(a, b.source);
        }
        return 0;
      },
    };
    expect(problemsOf(skips, 'fallback').join('\n')).toMatch(/unmapped after success/);
  });

  it('reports constants whose pageblock does not fit a section', () => {
    const bad: ArchBackend = { ...x86Backend, constants: (c) => ({ ...x86Backend.constants(c), pageblockOrder: 16, maxBuddyOrder: 16 }) };
    expect(problemsOf(bad, 'constants').join('\n')).toMatch(/does not fit in a section/);
  });

  it('reports a block size that is not a multiple of the section, and an ignored override', () => {
    const bad: ArchBackend = { ...x86Backend, memoryBlockSize: () => ({ bytes: 96n << 20n, why: 'mutant' }) };
    const p = problemsOf(bad, 'memory block size').join('\n');
    expect(p).toMatch(/not a power of two/);
    expect(p).toMatch(/override .* not honoured/);
  });

  it('reports a PMD huge page size that disagrees with PMD_SHIFT', () => {
    const bad: ArchBackend = { ...x86Backend, hugepageSizes: () => [{ bytes: 4n << 20n, level: 'pmd' }] };
    expect(problemsOf(bad, 'HugeTLB').join('\n')).toMatch(/≠ PMD_SIZE/);
  });

  it('reports a vmemmap_free that ignores the altmap: the altmap is destroyed with pages still allocated', () => {
    const wrongAltmap: ArchBackend = { ...x86Backend, vmemmapFree: (ctx, s, e) => ctx.unmapRange(s, e, null, { freePartialLeaves: true }) };
    expect(problemsOf(wrongAltmap, 'altmap accounting').join('\n')).toMatch(/alloc = 512 when it was destroyed, not back to 0/);
  });

  it('reports a populate that maps a PMD leaf a second time', () => {
    const twice: ArchBackend = {
      ...x86Backend,
      vmemmapPopulate: (ctx, s, e, n, altmap) => {
        const r = x86Backend.vmemmapPopulate(ctx, s, e, n, altmap);
        if (r === 0 && ctx.pmdEntry(s) === 'leaf') ctx.mapPmdLeaf(s, 'buddy');
        return r;
      },
    };
    // a 128 MiB section's memmap is one 2 MiB PMD = 512 pages (apps/docs/kernel/constants.md#per-arch x86-64 row)
    expect(problemsOf(twice, 'populate/depopulate')).toContain('one section: 512 vmemmap pages mapped more than once');
  });

  it('reports a backend that changes core state behind the context: its log no longer replays to the live state', () => {
    // core hands backends its live altmap objects; writing to one is a change no event records
    const sneaky: ArchBackend = {
      ...x86Backend,
      vmemmapPopulate: (ctx, s, e, n, altmap) => {
        if (altmap) (altmap as { alloc: number }).alloc += 1;
        return x86Backend.vmemmapPopulate(ctx, s, e, n, altmap);
      },
    };
    expect(problemsOf(sneaky, 'a recorded run')).toEqual(['replaying the recorded log gives a different state than the live run (differs in: altmaps)']);
  });

  it('lists configurations a backend does not support instead of checking them', () => {
    const r = checkBackend(x86Backend, { configs: [{ ...cfg, pageSizeBytes: 16384 }] });
    expect(r.results).toHaveLength(0);
    expect(r.unsupported[0]?.why).toMatch(/only 4 KiB/);
  });

  it('accepts arm64 64K where every populate is base pages from the altmap (apps/docs/kernel/vmemmap.md#arm64-populate)', () => {
    const r = checkBackend(arm64Backend, { configs: [{ ...cfg, pageSizeBytes: 65536 }] });
    expect(r.results.filter((x) => !x.ok)).toEqual([]);
  });
});
