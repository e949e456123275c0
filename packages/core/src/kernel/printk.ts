/**
 * Kernel messages as dmesg shows them. A `kernel.warn` event's message is the text the kernel prints for the
 * version, after printf formatting, without the timestamp: conformance compares it with a real dmesg line.
 *
 * - A message with a format (pr_warn, pr_err, WARN(cond, fmt), WARN_ONCE) is that text.
 * - A WARN_ON / WARN_ON_ONCE has no text of its own; the kernel prints "WARNING: CPU: 3 PID: 412 at
 *   mm/memory_hotplug.c:1091 online_pages+0x5b/0x2a0". memhp writes "WARNING: at mm/memory_hotplug.c online_pages":
 *   the real line without CPU/PID, line number and offsets (which depend on the build).
 * - A BUG_ON prints "kernel BUG at mm/memory_hotplug.c:2075!"; memhp writes it without the line number.
 * - A message that starts with "memhp: " is the model's own diagnostic; the kernel prints nothing there.
 *
 * Once-only sites (WARN_ONCE, WARN_ON_ONCE, pr_warn_once) print at most once per boot: {@link ONCE_SITES} names
 * them by the fixed start of their text, evolve records the sites that printed (state.printedOnce), and
 * {@link printOnce} consults it, so live runs and replay agree.
 */
import type { KernelCtx } from '../commands/registry.js';

/** C's "%#lx" / "%#llx": 0x-prefixed lowercase hex, except 0, which prints as "0". */
export const cHexAlt = (v: number | bigint): string => (BigInt(v) === 0n ? '0' : `0x${BigInt(v).toString(16)}`);
/** C's "%lx": lowercase hex without a prefix. */
export const cHex = (v: number | bigint): string => BigInt(v).toString(16);
/** "%pa" of a phys_addr_t (64-bit): 0x and 16 zero-padded hex digits (lib/vsprintf.c address_val). */
export const cPhysAddr = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

/** The text memhp records for a WARN_ON(_ONCE) at `func` in `file`. */
export const warnOnText = (file: string, func: string): string => `WARNING: at ${file} ${func}`;
/** The text memhp records for a BUG_ON in `file`. */
export const bugText = (file: string): string => `kernel BUG at ${file}!`;

export interface OnceSite {
  /** The fixed start of the site's message. */
  readonly prefix: string;
  /** Where the kernel has it (6.1 unless said otherwise). */
  readonly source: string;
}

export const ONCE_SITES: readonly OnceSite[] = [
  { prefix: 'nr_range must be specified', source: 'mm/memremap.c memremap_pages: WARN_ONCE(!nr_range, …)' },
  { prefix: 'attempted on ', source: 'mm/memremap.c pagemap_range: WARN_ONCE(1, "attempted on %s region %#llx-%#llx\\n", …)' },
  { prefix: 'failed to free all reserved pages', source: 'mm/memremap.c memunmap_pages: WARN_ONCE(pgmap->altmap.alloc, …)' },
  { prefix: 'memory add fail, invalid altmap', source: 'mm/memory_hotplug.c __add_pages: pr_warn_once' },
  { prefix: warnOnText('mm/memory_hotplug.c', '__add_pages'), source: 'mm/memory_hotplug.c __add_pages: WARN_ON_ONCE(!pgprot_val(params->pgprot))' },
  { prefix: warnOnText('mm/memory_hotplug.c', 'online_pages'), source: 'mm/memory_hotplug.c online_pages: WARN_ON_ONCE(!nr_pages || !pageblock_aligned(pfn) || …)' },
  {
    prefix: warnOnText('mm/memory_hotplug.c', 'offline_pages'),
    source: 'mm/memory_hotplug.c offline_pages: WARN_ON_ONCE on the alignment and on the zone (two call sites, one text: memhp prints the first only)',
  },
  { prefix: warnOnText('arch/x86/mm/init_64.c', 'add_pages'), source: 'arch/x86/mm/init_64.c add_pages: WARN_ON_ONCE(end > PHYSMEM_END) (6.1.y backport, 6.11)' },
  { prefix: 'Not all memblocks in range have altmaps', source: 'mm/memory_hotplug.c memblocks_have_altmaps: WARN_ONCE (6.8)' },
];

/** The once-site a message belongs to, or null. */
export function onceSiteOf(message: string): string | null {
  for (const s of ONCE_SITES) if (message.startsWith(s.prefix)) return s.prefix;
  return null;
}

/** Print a once-only message unless its site printed already this boot. */
export function printOnce(ctx: KernelCtx, message: string): void {
  const site = onceSiteOf(message);
  if (site !== null && ctx.state.printedOnce.has(site)) return;
  ctx.warn(message);
}
