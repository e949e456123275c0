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

/** "%*pbl" of a bitmap (lib/vsprintf.c bitmap_list_string): set bits as comma-separated ranges, "0-1,3". */
export function cBitmapList(bits: readonly number[]): string {
  const s = [...new Set(bits)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The text memhp records for a WARN_ON(_ONCE) at `func` in `file`. */
export const warnOnText = (file: string, func: string): string => `WARNING: at ${file} ${func}`;
/** The text memhp records for a BUG_ON in `file`. */
export const bugText = (file: string): string => `kernel BUG at ${file}!`;

/** One message memhp can print: how to recognise it in dmesg, whether it prints once per boot, and its source. */
export interface KernelMessage {
  /** Matches the normalised dmesg line ({@link normaliseDmesgLine}) and memhp's text alike. */
  readonly pattern: RegExp;
  /** The fixed start of the text: the key of a once-only site. */
  readonly prefix: string;
  readonly level: 'WARN' | 'BUG' | 'pr_err' | 'pr_warn';
  readonly once: boolean;
  /**
   * A rate-limited site (a ratelimit state of its own, e.g. warn_alloc's 10 s / burst 1): memhp has no clock of
   * the kernel's, so it prints such a site at most once per command — a command's allocations follow each other
   * within microseconds; separate commands are taken to be further apart than the interval.
   */
  readonly ratelimited?: boolean;
  /** Kernel file, function and the version read (6.1 = /work/linux-6.1, Debian's 6.1.192). */
  readonly source: string;
}

const HEX = '(?:0|0x[0-9a-f]+)';
const msg = (prefix: string, rest: string, level: KernelMessage['level'], once: boolean, source: string, ratelimited = false): KernelMessage => ({
  pattern: new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${rest}$`),
  prefix,
  level,
  once,
  ...(ratelimited ? { ratelimited } : {}),
  source,
});

/** Every kernel message memhp prints (the audit of issue 17, against 6.1 unless a later release is named). */
export const KERNEL_MESSAGES: readonly KernelMessage[] = [
  msg('Misaligned __add_pages start: ', `${HEX} end: #[0-9a-f]+`, 'WARN', false, 'mm/memory_hotplug.c __add_pages: WARN(1, "Misaligned %s start: %#lx end: #%lx\\n")'),
  msg('Misaligned __remove_pages start: ', `${HEX} end: #[0-9a-f]+`, 'WARN', false, 'mm/memory_hotplug.c __remove_pages: WARN(1, "Misaligned %s start: %#lx end: #%lx\\n")'),
  msg('memory add fail, invalid altmap', '', 'pr_warn', true, 'mm/memory_hotplug.c __add_pages: pr_warn_once'),
  msg(warnOnText('mm/memory_hotplug.c', '__add_pages'), '', 'WARN', true, 'mm/memory_hotplug.c __add_pages: WARN_ON_ONCE(!pgprot_val(params->pgprot))'),
  msg('Block size [', `${HEX}\\] unaligned hotplug range: start ${HEX}, size ${HEX}`, 'pr_err', false, 'mm/memory_hotplug.c check_hotplug_memory_range: pr_err'),
  msg('Hotplug memory [', `${HEX}-${HEX}\\] exceeds maximum addressable range \\[${HEX}-${HEX}\\]`, 'pr_warn', false, 'mm/memory_hotplug.c mhp_range_allowed: pr_warn'),
  msg('node ', '\\d+ was absent from the node_possible_map', 'WARN', false, 'mm/memory_hotplug.c add_memory_resource: WARN(1, …)'),
  msg(warnOnText('mm/memory_hotplug.c', 'online_pages'), '', 'WARN', true, 'mm/memory_hotplug.c online_pages: WARN_ON_ONCE(!nr_pages || !pageblock_aligned(pfn) || …)'),
  msg(
    warnOnText('mm/memory_hotplug.c', 'offline_pages'),
    '',
    'WARN',
    true,
    'mm/memory_hotplug.c offline_pages: WARN_ON_ONCE on the alignment and on the zone (two call sites, one text: memhp prints the first only)',
  ),
  msg('removing memory fails, because memory [', '0x[0-9a-f]{16}-0x[0-9a-f]{16}\\] is onlined', 'pr_warn', false, 'mm/memory_hotplug.c check_memblock_offlined_cb: pr_warn with %pa'),
  msg('Refuse to remove ', `${HEX} - ${HEX},wrong granularity`, 'pr_warn', false, 'mm/memory_hotplug.c try_remove_memory (5.13–6.7): pr_warn'),
  msg('Not all memblocks in range have altmaps', '', 'WARN', true, 'mm/memory_hotplug.c memblocks_have_altmaps: WARN_ONCE (6.8)'),
  msg('Altmap not fully unmapped', '', 'WARN', false, 'mm/memory_hotplug.c try_remove_memory (6.6) / remove_memory_blocks_and_altmaps (6.8): WARN(altmap->alloc, …)'),
  msg(bugText('mm/memory_hotplug.c'), '', 'BUG', false, 'mm/memory_hotplug.c try_remove_memory: BUG_ON(check_hotplug_memory_range(start, size))'),
  msg('section already deactivated (', `${HEX} \\+ \\d+\\)`, 'WARN', false, 'mm/sparse.c clear_subsection_map: WARN(…, "section already deactivated (%#lx + %ld)\\n")'),
  msg('sparse_init_nid: node[', '\\d+\\] memory map backing failed\\. Some memory will not be available\\.', 'pr_err', false, 'mm/sparse.c sparse_init_nid: pr_err("%s: node[%d] memory map backing failed. …")'),
  msg('Boot memory [', '[0-9a-f]+ [0-9a-f]+\\] offlining attempted', 'pr_warn', false, 'arch/arm64/mm/mmu.c prevent_bootmem_remove_notifier: pr_warn("Boot memory [%lx %lx] offlining attempted\\n")'),
  msg('nr_range must be specified', '', 'WARN', true, 'mm/memremap.c memremap_pages: WARN_ONCE(!nr_range, …)'),
  msg('Conflicting mapping in same section', '', 'WARN', false, 'mm/memremap.c pagemap_range: WARN(1, …)'),
  msg('attempted on ', `(?:ram|mixed) region ${HEX}-${HEX}`, 'WARN', true, 'mm/memremap.c pagemap_range: WARN_ONCE(1, "attempted on %s region %#llx-%#llx\\n", …)'),
  msg('failed to free all reserved pages', '', 'WARN', true, 'mm/memremap.c memunmap_pages: WARN_ONCE(pgmap->altmap.alloc, …)'),
  msg(warnOnText('arch/x86/mm/init_64.c', 'add_pages'), '', 'WARN', true, 'arch/x86/mm/init_64.c add_pages: WARN_ON_ONCE(end > PHYSMEM_END) (6.1.y backport, 6.11)'),
  msg(
    'page allocation failure: order:',
    '\\d+, mode:0x[0-9a-f]+\\([A-Za-z0-9_|]+\\), nodemask=\\S+?(?:,cpuset=\\S*,mems_allowed=[0-9,-]*)?',
    'pr_warn',
    false,
    'mm/page_alloc.c warn_alloc: pr_warn("%s: %pV, mode:%#x(%pGg), nodemask=%*pbl") + cpuset_print_current_mems_allowed, ratelimited 10 s burst 1 (the task name is not part of memhp\'s text)',
    true,
  ),
];

/** The rate-limited sites, by the fixed start of their text. */
export const RATELIMITED_SITES: readonly KernelMessage[] = KERNEL_MESSAGES.filter((m) => m.ratelimited === true);

/** The once-only sites, by the fixed start of their text. */
export const ONCE_SITES: readonly KernelMessage[] = KERNEL_MESSAGES.filter((m) => m.once);

/**
 * A real dmesg line as memhp writes its messages: without the "[   12.345678] " timestamp, and a WARNING or BUG
 * header without CPU/PID, line number and code offsets ("WARNING: CPU: 3 PID: 412 at mm/memory_hotplug.c:1091
 * online_pages+0x5b/0x2a0" → "WARNING: at mm/memory_hotplug.c online_pages").
 */
export function normaliseDmesgLine(line: string): string {
  const t = line.replace(/^\[\s*\d+\.\d+\]\s?/, '').replace(/^<\d+>/, '').trimEnd();
  const w = /^WARNING: (?:CPU: \d+ PID: \d+ )?at (\S+?):\d+ ([A-Za-z0-9_.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+/.exec(t);
  if (w) return warnOnText(w[1]!, w[2]!);
  const b = /^kernel BUG at (\S+?):\d+!$/.exec(t);
  if (b) return bugText(b[1]!);
  // warn_alloc starts with the allocating task's name (TASK_COMM_LEN − 1 = 15 characters at most)
  const a = /^.{1,15}: (page allocation failure: .*)$/.exec(t);
  if (a) return a[1]!;
  return t;
}

/** The message a (normalised) line is, if memhp models it. */
export const kernelMessageOf = (text: string): KernelMessage | null => KERNEL_MESSAGES.find((m) => m.pattern.test(text)) ?? null;

/** The once-site a message belongs to, or null. */
export function onceSiteOf(message: string): string | null {
  for (const s of ONCE_SITES) if (message.startsWith(s.prefix)) return s.prefix;
  return null;
}

/** The rate-limited site a message belongs to, or null. */
export function ratelimitedSiteOf(message: string): string | null {
  for (const s of RATELIMITED_SITES) if (message.startsWith(s.prefix)) return s.prefix;
  return null;
}

/**
 * Print a message of a rate-limited site unless the site printed already in this command (state.ratelimited
 * holds the operation id of each site's last print; see {@link KernelMessage.ratelimited}).
 */
export function printRatelimited(ctx: KernelCtx, message: string): void {
  const site = ratelimitedSiteOf(message);
  if (site !== null && ctx.state.ratelimited.get(site) === ctx.op) return;
  ctx.warn(message);
}

/** Print a once-only message unless its site printed already this boot. */
export function printOnce(ctx: KernelCtx, message: string): void {
  const site = onceSiteOf(message);
  if (site !== null && ctx.state.printedOnce.has(site)) return;
  ctx.warn(message);
}
