/**
 * Hot-adding System RAM: mm/memory_hotplug.c add_memory, __add_memory, add_memory_driver_managed,
 * add_memory_resource (6.1) with the 6.6 (altmap kept in the block, fallback instead of -EINVAL) and 6.8
 * (create_altmaps_and_memory_blocks: per-block altmaps) changes (apps/docs/kernel/hotplug.md#entry-points to apps/docs/kernel/hotplug.md#alignment, apps/docs/kernel/hotplug.md#errors, apps/docs/kernel/memmap-on-memory.md#memmap-on-memory).
 */
import { cHexAlt } from '../kernel/printk.js';
import type { CommandHandlers, CommandOf, KernelCtx } from '../commands/registry.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import {
  memmapOnMemoryAltmapFree,
  memmapOnMemorySizeMustEqualBlock,
  memmapOnMemoryUnsupportedFlag,
  mhpFlagsAvailable,
  memoryBlockVmemmapRecord,
} from '../kernel/rules.js';
import { explainFromFacts, type MemmapOnMemoryExplanation, type MemmapOnMemoryFacts } from '../memmap-on-memory/predicate.js';
import { bytesToPfn, hex } from '../model/geometry.js';
import { resourceById } from '../model/resources.js';
import type { AltmapState, MachineInfo, MachineState } from '../model/state.js';
import { archRemoveMemory } from './arch-add-memory.js';
import { archAddMemoryWithParams, systemRamParams } from './mhp-params.js';
import { createMemoryBlockDevices } from './memory-block.js';
import { mergeSystemRamResource, registerMemoryResource, releaseMemRegion } from './resource.js';
import type { MhpFlag, PhysRange } from '../api.js';

/** Facts for mhp_supports_memmap_on_memory as this machine and its parameters give them. */
export function memmapOnMemoryFactsOf(ctx: KernelCtx, requestBytes: bigint): MemmapOnMemoryFacts {
  const m = ctx.machine;
  const g = m.geometry;
  const hook = ctx.backend.supportsMemmapOnMemory;
  return {
    kernel: m.kernel,
    param: ctx.state.params.memmapOnMemory,
    hvoEnabled: ctx.state.params.hugetlbFreeVmemmap,
    pageBytes: g.pageBytes,
    structPageBytes: g.structPageBytes,
    blockBytes: g.blockSizeBytes,
    requestBytes,
    pmdBytes: 1n << BigInt(g.pmdShift),
    pageblockPages: g.pageblockPages,
    archEnabled: m.capabilities.memmapOnMemory && m.capabilities.memoryHotplug,
    ...(hook ? { archHook: (v: bigint) => hook.call(ctx.backend, ctx.archConfig, v) } : {}),
    arch: m.arch,
  };
}

/**
 * mhp_supports_memmap_on_memory for this machine, memoised per request size: its inputs are boot-time
 * parameters (memmap_on_memory is read-only at runtime, mode 0444), so the verdict never changes.
 */
const verdicts = new WeakMap<object, Map<string, MemmapOnMemoryExplanation>>();
/** The last verdict: a run of hot-adds asks the same question each time (saves building the key string). */
let lastVerdict: { machine: object; param: unknown; hvo: unknown; requestBytes: bigint; e: MemmapOnMemoryExplanation } | null = null;
export function memmapOnMemoryVerdict(ctx: KernelCtx, requestBytes: bigint): MemmapOnMemoryExplanation {
  const param = ctx.state.params.memmapOnMemory;
  const hvo = ctx.state.params.hugetlbFreeVmemmap;
  const last = lastVerdict;
  if (last !== null && last.machine === ctx.machine && last.param === param && last.hvo === hvo && last.requestBytes === requestBytes) return last.e;
  let m = verdicts.get(ctx.machine);
  if (!m) verdicts.set(ctx.machine, (m = new Map()));
  const key = `${param}|${hvo}|${requestBytes}`;
  let e = m.get(key);
  if (!e) m.set(key, (e = explainFromFacts(memmapOnMemoryFactsOf(ctx, requestBytes))));
  lastVerdict = { machine: ctx.machine, param, hvo, requestBytes, e };
  return e;
}

/** check_hotplug_memory_range: size > 0 and start, size multiples of the memory block size. */
export function checkHotplugMemoryRange(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint): KResult {
  const b = ctx.machine.geometry.blockSizeBytes;
  if (sizeBytes === 0n || startBytes % b !== 0n || sizeBytes % b !== 0n) {
    return fail('EINVAL', `Block size [${cHexAlt(b)}] unaligned hotplug range: start ${cHexAlt(startBytes)}, size ${cHexAlt(sizeBytes)}`);
  }
  return ok();
}

/** Flags the kernel version does not have are rejected before anything happens (they do not exist there). */
function checkFlags(ctx: KernelCtx, flags: readonly MhpFlag[]): KResult {
  const known = pick(mhpFlagsAvailable, ctx.kernel);
  let allKnown = true;
  for (let i = 0; i < flags.length; i++) if (!known.includes(flags[i]!)) allKnown = false;
  if (allKnown) return ok();
  const bad = flags.filter((f) => !known.includes(f));
  if (bad.length) return fail('EINVAL', `mhp_t flag(s) ${bad.join(', ')} do not exist in kernel ${ctx.kernel} (known: ${known.join(', ')})`);
  return ok();
}

const newAltmapId = (ctx: KernelCtx): number => ctx.state.nextAltmapId;

function createAltmap(ctx: KernelCtx, basePfn: number, endPfn: number, free: number): AltmapState {
  const id = newAltmapId(ctx);
  ctx.emit('altmap.create', { id, basePfn, endPfn, reserve: 0, free, align: 0, alloc: 0, owner: 'memmap_on_memory' });
  return (ctx.state as MachineState).altmaps.get(id)!;
}

function destroyAltmap(ctx: KernelCtx, id: number, warn: boolean): void {
  const a = ctx.state.altmaps.get(id);
  if (!a) return;
  if (warn && a.alloc !== 0) ctx.warn('Altmap not fully unmapped'); // WARN(altmap->alloc, …) (6.8 remove_memory_blocks_and_altmaps)
  ctx.emit('altmap.destroy', { id, alloc: a.alloc, warn: warn && a.alloc !== 0 });
}

const nodePossible = (nodes: MachineInfo['config']['nodes'], nid: number): boolean => {
  for (let i = 0; i < nodes.length; i++) if (nodes[i]!.id === nid) return true;
  return false;
};

/**
 * The failure path after memblock_add_node: memblock_remove (ARCH_KEEP_MEMBLOCK), then the errno. A module
 * function rather than a closure per call (under tsx every named closure also costs a __name call).
 */
function memblockRemoveAndFail(ctx: KernelCtx, keepMemblock: boolean, startBytes: bigint, endBytes: bigint, errno: ErrnoName, why: string): KResult {
  if (keepMemblock) ctx.emit('memblock.remove', { start: hex(startBytes), end: hex(endBytes) });
  return fail(errno, why);
}

/**
 * add_memory_resource(nid, res, flags) after the resource was claimed (apps/docs/kernel/hotplug.md#add-steps steps 1–15). On failure
 * the caller releases the resource.
 */
export function addMemoryResource(
  ctx: KernelCtx,
  nidArg: number,
  resourceId: number,
  startBytes: bigint,
  sizeBytes: bigint,
  flags: readonly MhpFlag[],
): KResult {
  const m = ctx.machine;
  const g = m.geometry;
  const range = checkHotplugMemoryRange(ctx, startBytes, sizeBytes);
  if (!range.ok) {
    ctx.warn(range.why); // check_hotplug_memory_range: pr_err (6.1)
    return range;
  }

  let nid = nidArg;
  let group: number | null = null;
  if (flags.includes('nid_is_mgid')) {
    const grp = ctx.state.groups.get(nidArg);
    if (!grp) return fail('EINVAL', `MHP_NID_IS_MGID: no memory group ${nidArg}`);
    group = grp.id;
    nid = grp.nid;
  }
  if (!nodePossible(m.config.nodes, nid)) {
    ctx.warn(`node ${nid} was absent from the node_possible_map`);
    return fail('EINVAL', `node ${nid} is not possible (machine nodes: ${m.config.nodes.map((n) => n.id).join(', ')})`);
  }
  const startPfn = bytesToPfn(g, startBytes);
  const nrPages = bytesToPfn(g, sizeBytes);
  const endBytes = startBytes + sizeBytes;

  const keepMemblock = m.capabilities.keepMemblock;
  if (keepMemblock) {
    const driverManaged = resourceById(ctx.state, resourceId)?.flags.includes('driver_managed') ?? false;
    ctx.emit('memblock.add', { nid, start: hex(startBytes), end: hex(endBytes), driverManaged });
  }

  // __try_online_node(nid, false): a pgdat for a node that has none (kept even if the add fails)
  const node = ctx.state.nodes.get(nid);
  const newNode = !node?.online;
  if (newNode && !node?.pgdat) {
    if (ctx.faults.slabAlloc('pgdat', { nid })) return memblockRemoveAndFail(ctx, keepMemblock, startBytes, endBytes, 'ENOMEM', `hotadd_init_pgdat(${nid}) failed`);
    ctx.emit('node.hotadd_init', { nid });
  }

  // memmap_on_memory: which path (apps/docs/kernel/hotplug.md#add-steps step 7 and "6.6", "6.8")
  let mode: 'none' | 'range' | 'per-block' = 'none';
  let freePerAltmap = 0;
  if (flags.includes('memmap_on_memory')) {
    const perBlock = !pick(memmapOnMemorySizeMustEqualBlock, ctx.kernel);
    const e = memmapOnMemoryVerdict(ctx, perBlock ? g.blockSizeBytes : sizeBytes);
    if (!e.supported) {
      if (pick(memmapOnMemoryUnsupportedFlag, ctx.kernel) === 'EINVAL') {
        return memblockRemoveAndFail(ctx, keepMemblock, startBytes, endBytes, 'EINVAL', `MHP_MEMMAP_ON_MEMORY not supported: ${e.reasons.join('; ')}`);
      }
      // 6.6+: silently falls back to a memmap in RAM
    } else {
      mode = perBlock ? 'per-block' : 'range';
      freePerAltmap = pick(memmapOnMemoryAltmapFree, ctx.kernel) === 'whole-range' ? nrPages : e.vmemmapPages;
    }
  }
  const recordAltmap = pick(memoryBlockVmemmapRecord, ctx.kernel) === 'altmap';

  if (mode === 'per-block') {
    const r = createAltmapsAndMemoryBlocks(ctx, nid, group, startBytes, sizeBytes, freePerAltmap);
    if (!r.ok) return memblockRemoveAndFail(ctx, keepMemblock, startBytes, endBytes, r.errno, r.why);
  } else {
    const altmap = mode === 'range' ? createAltmap(ctx, startPfn, startPfn + nrPages - 1, freePerAltmap) : null;
    const err = archAddMemoryWithParams(ctx, nid, startBytes, sizeBytes, systemRamParams(altmap));
    if (err !== 0) {
      if (altmap) destroyAltmap(ctx, altmap.id, false);
      return memblockRemoveAndFail(ctx, keepMemblock, startBytes, endBytes, err, `arch_add_memory failed: -${err}`);
    }
    const live = altmap ? ctx.state.altmaps.get(altmap.id) : undefined;
    const vmemmap = live
      ? { nrVmemmapPages: recordAltmap ? live.free : live.alloc, altmapId: live.id }
      : { nrVmemmapPages: 0, altmapId: null };
    const berr = createMemoryBlockDevices(ctx, nid, startPfn, nrPages, vmemmap, group);
    if (berr !== 0) {
      archRemoveMemory(ctx, startBytes, sizeBytes, altmap);
      if (altmap) destroyAltmap(ctx, altmap.id, false);
      return memblockRemoveAndFail(ctx, keepMemblock, startBytes, endBytes, berr, `create_memory_block_devices failed: -${berr}`);
    }
  }

  if (newNode) ctx.emit('node.online', { nid, hasCpus: ctx.state.nodes.get(nid)?.hasCpus ?? false });
  if (flags.includes('merge_resource')) mergeSystemRamResource(ctx, resourceId);
  autoOnline(ctx, startPfn, nrPages);
  return ok();
}

/** create_altmaps_and_memory_blocks' error path: remove the blocks created so far, then the errno. */
function undoBlocksAndFail(ctx: KernelCtx, startBytes: bigint, errno: ErrnoName, why: string, cur: bigint): KResult {
  if (cur !== startBytes) removeMemoryBlocksAndAltmaps(ctx, startBytes, cur - startBytes);
  return fail(errno, why);
}

/**
 * create_altmaps_and_memory_blocks (6.8+): per block, an altmap {base = block start, free = the block's memmap
 * pages}, arch_add_memory for the block, then its memory block device. On failure the blocks already created
 * are removed again with their altmaps.
 */
function createAltmapsAndMemoryBlocks(
  ctx: KernelCtx,
  nid: number,
  group: number | null,
  startBytes: bigint,
  sizeBytes: bigint,
  free: number,
): KResult {
  const g = ctx.machine.geometry;
  const bs = g.blockSizeBytes;
  for (let cur = startBytes; cur < startBytes + sizeBytes; cur += bs) {
    const pfn = bytesToPfn(g, cur);
    if (ctx.faults.active && ctx.faults.slabAlloc('altmap', { pfn })) return undoBlocksAndFail(ctx, startBytes, 'ENOMEM', 'kmemdup(altmap) failed', cur);
    const altmap = createAltmap(ctx, pfn, pfn + g.pagesPerBlock - 1, free);
    const err = archAddMemoryWithParams(ctx, nid, cur, bs, systemRamParams(altmap));
    if (err !== 0) {
      destroyAltmap(ctx, altmap.id, false);
      return undoBlocksAndFail(ctx, startBytes, err, `arch_add_memory failed for block ${pfn / g.pagesPerBlock}: -${err}`, cur);
    }
    const berr = createMemoryBlockDevices(ctx, nid, pfn, g.pagesPerBlock, { nrVmemmapPages: free, altmapId: altmap.id }, group);
    if (berr !== 0) {
      // the kernel passes no altmap here: altmap-backed vmemmap is freed as if it came from RAM
      archRemoveMemory(ctx, cur, bs, null);
      destroyAltmap(ctx, altmap.id, false);
      return undoBlocksAndFail(ctx, startBytes, berr, `create_memory_block_devices failed: -${berr}`, cur);
    }
  }
  return ok();
}

/** remove_memory_blocks_and_altmaps (6.8+): per block, its device, arch_remove_memory with its altmap, the altmap. */
export function removeMemoryBlocksAndAltmaps(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint): void {
  const g = ctx.machine.geometry;
  const bs = g.blockSizeBytes;
  for (let cur = startBytes; cur < startBytes + sizeBytes; cur += bs) {
    const id = bytesToPfn(g, cur) / g.pagesPerBlock;
    const b = ctx.state.blockTable[id];
    if (!b) continue;
    const altmapId = b.altmapId;
    // remove_memory_block_devices of this one block, which exists
    ctx.emit('memory_block.remove', { id: b.id });
    const altmap = altmapId !== null ? (ctx.state as MachineState).altmaps.get(altmapId) ?? null : null;
    archRemoveMemory(ctx, cur, bs, altmap);
    if (altmapId !== null) destroyAltmap(ctx, altmapId, true);
  }
}

/**
 * Auto-online (apps/docs/kernel/hotplug.md#add-steps step 15): every new block is onlined with auto_online_blocks; errors are
 * ignored (the block stays offline). Runs the `block_state` handler when one is registered.
 */
function autoOnline(ctx: KernelCtx, startPfn: number, nrPages: number): void {
  const type = ctx.state.knobs.autoOnlineBlocks;
  if (type === 'offline' || !ctx.has('block_state')) return;
  const g = ctx.machine.geometry;
  for (let pfn = startPfn; pfn < startPfn + nrPages; pfn += g.pagesPerBlock) {
    const id = pfn / g.pagesPerBlock;
    if (ctx.state.blockTable[id]?.state === 'offline') ctx.call({ kind: 'block_state', block: id, state: type });
  }
}

/** __add_memory's shape, shared with add_memory_driver_managed: claim the resource, add, release it on failure. */
function addMemoryNamed(ctx: KernelCtx, nid: number, range: PhysRange, name: string, flags: readonly MhpFlag[]): KResult {
  const f = checkFlags(ctx, flags);
  if (!f.ok) return f;
  const res = registerMemoryResource(ctx, range.startBytes, range.sizeBytes, name, { mergeable: flags.includes('merge_resource') });
  if (!res.ok) return res;
  const r = addMemoryResource(ctx, nid, res.id, range.startBytes, range.sizeBytes, flags);
  if (!r.ok) releaseMemRegion(ctx, range.startBytes, range.sizeBytes);
  return r;
}

/** __add_memory / add_memory(nid, start, size, flags): claim "System RAM", then add_memory_resource. */
export function addMemory(ctx: KernelCtx, cmd: CommandOf<'add_memory'>): KResult {
  return addMemoryNamed(ctx, cmd.node, cmd.range, 'System RAM', cmd.flags);
}

/** add_memory_driver_managed: the name must look like "System RAM (driver)" (-EINVAL), then as add_memory. */
export function addMemoryDriverManaged(ctx: KernelCtx, cmd: CommandOf<'add_memory_driver_managed'>): KResult {
  const name = cmd.resourceName;
  if (!name.startsWith('System RAM (') || !name.endsWith(')')) {
    return fail('EINVAL', `resource name "${name}" is not of the form "System RAM (driver)"`);
  }
  return addMemoryNamed(ctx, cmd.node, cmd.range, name, cmd.flags);
}

/** /sys/devices/system/memory/probe: one block-aligned block, no flags. */
export function probeMemory(ctx: KernelCtx, cmd: CommandOf<'probe'>): KResult {
  const bs = ctx.machine.geometry.blockSizeBytes;
  if (cmd.startBytes % bs !== 0n) return fail('EINVAL', `probe: ${hex(cmd.startBytes)} is not aligned to the block size ${hex(bs)}`);
  const nid = nodeOfAddress(ctx, cmd.startBytes);
  return addMemory(ctx, { kind: 'add_memory', node: nid, range: { startBytes: cmd.startBytes, sizeBytes: bs }, flags: [] });
}

/** memory_add_physaddr_to_nid: the node whose boot memory is nearest below the address, else the first node. */
function nodeOfAddress(ctx: KernelCtx, addr: bigint): number {
  let best = ctx.machine.config.nodes[0]?.id ?? 0;
  let bestStart = -1n;
  for (const n of ctx.machine.config.nodes) {
    for (const r of n.memory) if (r.startBytes <= addr && r.startBytes > bestStart) [best, bestStart] = [n.id, r.startBytes];
  }
  return best;
}

export const addMemoryHandlers: CommandHandlers = {
  add_memory: addMemory,
  add_memory_driver_managed: addMemoryDriverManaged,
  probe: probeMemory,
};

