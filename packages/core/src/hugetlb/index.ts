/**
 * HugeTLB pool and HVO (apps/docs/kernel/hvo.md#hvo; seed 001). {@link hugetlbCommandHandlers} registers the `hugepages` and
 * `hugetlb_use` commands; {@link hugetlbBoot} runs hugetlb_init and the boot-time pools.
 */
import type { CommandHandlers, KernelCtx } from '../commands/registry.js';
import { fail } from '../kernel/errno.js';
import { onlineCommandHandlers } from '../hotplug/online-commands.js';
import { hstateForSize, hugetlbBootPools, hugetlbInit, hugetlbUse, setMaxHugePages } from './pool.js';

/** hugetlb_init + hugetlb_hstate_alloc_pages (called at the end of boot). */
export function hugetlbBoot(ctx: KernelCtx): void {
  hugetlbInit(ctx);
  hugetlbBootPools(ctx);
}

const nrHugepages = (ctx: KernelCtx, sizeBytes: bigint, count: number, node?: number) => {
  const h = hstateForSize(ctx.state, sizeBytes);
  if ('errno' in h) return fail(h.errno, h.why);
  if (node !== undefined && !ctx.state.nodes.get(node)?.online) return fail('ENOENT', `/sys/devices/system/node/node${node} does not exist (node not online)`);
  return setMaxHugePages(ctx, h.order, count, node ?? null);
};

export const hugetlbCommandHandlers: CommandHandlers = {
  hugepages: (ctx, cmd) => nrHugepages(ctx, cmd.sizeBytes, cmd.count, cmd.node),
  /**
   * `vm.nr_hugepages` and the hugepages sysfs files are pool writes; every other name goes to the runtime-knob
   * handler of hotplug/online-commands.ts.
   */
  sysctl: (ctx, cmd) => {
    const c = hugepagesCommandFromPath(cmd.name, cmd.value);
    if (c === null) {
      const other = onlineCommandHandlers.sysctl;
      return other ? other(ctx, cmd) : fail('ENOENT', `${cmd.name}: no such sysctl`);
    }
    if ('error' in c) return fail('EINVAL', c.error);
    return nrHugepages(ctx, c.sizeBytes, c.count, c.node);
  },
  hugetlb_use: (ctx, cmd) => {
    const h = hstateForSize(ctx.state, cmd.sizeBytes);
    if ('errno' in h) return fail(h.errno, h.why);
    return hugetlbUse(ctx, h.order, cmd.pages, cmd.node ?? null);
  },
};

/**
 * The sysctl and sysfs spellings of a pool write as a `hugepages` command: `vm.nr_hugepages` /
 * `/proc/sys/vm/nr_hugepages` (default size, global), `/sys/kernel/mm/hugepages/hugepages-<kB>kB/nr_hugepages`
 * and `/sys/devices/system/node/node<N>/hugepages/hugepages-<kB>kB/nr_hugepages`. Null when `path` is none of these.
 */
export function hugepagesCommandFromPath(path: string, value: string): { kind: 'hugepages'; node?: number; sizeBytes: bigint; count: number } | { error: string } | null {
  const p = path.trim();
  const count = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  const bad = { error: `${p}: invalid value "${value}" (an unsigned count)` };
  if (p === 'vm.nr_hugepages' || p === '/proc/sys/vm/nr_hugepages') return Number.isNaN(count) ? bad : { kind: 'hugepages', sizeBytes: 0n, count };
  const m = /^\/sys\/(?:kernel\/mm|devices\/system\/node\/node(\d+))\/hugepages\/hugepages-(\d+)kB\/nr_hugepages$/.exec(p);
  if (!m) return null;
  if (Number.isNaN(count)) return bad;
  return { kind: 'hugepages', ...(m[1] !== undefined ? { node: Number(m[1]) } : {}), sizeBytes: BigInt(m[2]!) * 1024n, count };
}

export * from './state.js';
export * from './rules.js';
export { hvoGeometry, hvoEnabled, hvoShouldOptimize, nodeHasKernelZone, pageVmemmapSelfHosted, vmemmapBackingPfn, warnAllocText } from './hvo.js';
export { poolCounts, nodesWithMemory, findFreeSlot, hugetlbCandidateRanges, setMaxHugePages, hugetlbUse, hstateForSize } from './pool.js';
export { hugetlbOfflineRange, migrateHugetlbRange, dissolveFreeHugePages, type OfflineFailure } from './offline.js';
export * from './views.js';
