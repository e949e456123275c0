/**
 * Every fault-injection site core checks, with the kernel step it stands for and the error it produces
 * (apps/docs/kernel/vmemmap.md#sources, apps/docs/kernel/hotplug.md#onlining to apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/hvo.md#steps, apps/docs/kernel/zone-device.md#memremap; apps/docs/concepts/design.md#determinism). A scenario's `faults.sites` may only name
 * these; {@link checkFaultConfig} says, per field, what is wrong with a configuration — so a typo in a scenario
 * is a located error, not a fault that silently never fires.
 */
import { isErrnoName, type ErrnoName } from '../kernel/errno.js';
import type { FaultConfig } from './injector.js';

export interface FaultSiteSpec {
  readonly site: string;
  /** The kernel step that fails. */
  readonly kernel: string;
  /** The error the site returns unless the configuration names another. */
  readonly errno: ErrnoName;
  readonly effect: string;
}

export const FAULT_SITES: readonly FaultSiteSpec[] = [
  { site: 'pmd', kernel: 'vmemmap_alloc_block_buf(PMD_SIZE) / alloc of a PMD-sized HugeTLB page', errno: 'ENOMEM', effect: 'x86/arm64 fall back to base pages for that PMD (no fallback with an altmap); a 2 MiB HugeTLB page is not allocated' },
  { site: 'order0', kernel: 'an order-0 page: vmemmap base page, vmemmap page-table page, HVO PTE table / new head / restore', errno: 'ENOMEM', effect: 'hot-add fails; HVO keeps the page unoptimised; a restore fails and the huge page stays (surplus)' },
  { site: 'slab', kernel: 'any small kernel allocation (kzalloc)', errno: 'ENOMEM', effect: 'the add fails with -ENOMEM' },
  { site: 'slab:section root', kernel: 'sparse_index_init', errno: 'ENOMEM', effect: 'sparse_add_section fails' },
  { site: 'slab:mem_section_usage', kernel: 'section_activate: usage kzalloc', errno: 'ENOMEM', effect: 'sparse_add_section fails' },
  { site: 'slab:memory_block', kernel: 'init_memory_block', errno: 'ENOMEM', effect: 'add_memory fails after arch_add_memory and removes it again' },
  { site: 'slab:pgdat', kernel: 'hotadd_init_pgdat', errno: 'ENOMEM', effect: 'add_memory on a new node fails' },
  { site: 'slab:altmap', kernel: 'kmemdup of a per-block altmap (6.8+)', errno: 'ENOMEM', effect: 'add_memory fails' },
  { site: 'notifier:MEM_GOING_ONLINE', kernel: 'memory_notify(MEM_GOING_ONLINE) (the kernel selftest injects -12 here)', errno: 'ENOMEM', effect: 'online_pages cancels: MEM_CANCEL_ONLINE, the block stays offline' },
  { site: 'notifier:MEM_GOING_OFFLINE', kernel: 'memory_notify(MEM_GOING_OFFLINE) (the kernel selftest injects -12 here)', errno: 'ENOMEM', effect: 'offline_pages fails "notifier failure": MEM_CANCEL_OFFLINE' },
  { site: 'offline:isolate', kernel: 'start_isolate_page_range', errno: 'EBUSY', effect: 'offline fails "failure to isolate range"' },
  { site: 'offline:unmovable', kernel: 'scan_movable_pages finds an unmovable page', errno: 'EBUSY', effect: 'offline fails "unmovable page"' },
  { site: 'offline:signal', kernel: 'signal_pending in the offline loop', errno: 'EINTR', effect: 'offline fails "signal backoff"' },
  { site: 'offline:dissolve', kernel: 'dissolve_free_huge_pages', errno: 'ENOMEM', effect: 'offline fails "failure to dissolve huge pages"' },
  { site: 'hugetlb:gigantic', kernel: 'alloc_contig_pages for a gigantic HugeTLB page', errno: 'ENOMEM', effect: 'the pool stays short' },
  { site: 'hugetlb:alloc', kernel: 'alloc_pages of a HugeTLB page that is neither PMD-sized nor gigantic', errno: 'ENOMEM', effect: 'the pool stays short' },
  { site: 'altmap', kernel: 'a device altmap too small for the memmap (libnvdimm reserve)', errno: 'ENOMEM', effect: 'the altmap is created with free = 0: memremap_pages fails with -ENOMEM' },
  { site: 'virtio_mem:plug', kernel: 'virtio-mem device plug request', errno: 'ENOMEM', effect: 'the device refuses the plug' },
  { site: 'virtio_mem:unplug', kernel: 'virtio-mem device unplug request', errno: 'ENOMEM', effect: 'the device refuses the unplug' },
  { site: 'virtio_mem:fake_offline', kernel: 'virtio-mem fake-offlining of sub-blocks', errno: 'EBUSY', effect: 'the unplug of that sub-block fails' },
];

export interface FaultConfigProblem {
  /** The field as a scenario writes it, e.g. `faults.sites.notifier:MEM_GOING_ONLNE`. */
  readonly field: string;
  readonly message: string;
}

const RATE_KEYS = ['pmdAllocFailRate', 'order0FailRate', 'slabFailRate'] as const;

/** What is wrong with a fault configuration, field by field (empty when it is fine). */
export function checkFaultConfig(config: FaultConfig, prefix = 'faults'): FaultConfigProblem[] {
  const out: FaultConfigProblem[] = [];
  for (const k of RATE_KEYS) {
    const v = config[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) out.push({ field: `${prefix}.${k}`, message: `a probability in [0, 1], got ${v}` });
  }
  if (config.freePmdBlocks !== undefined && !(Number.isInteger(config.freePmdBlocks) && config.freePmdBlocks >= 0))
    out.push({ field: `${prefix}.freePmdBlocks`, message: `a count ≥ 0, got ${config.freePmdBlocks}` });
  const known = new Set(FAULT_SITES.map((s) => s.site));
  for (const [name, f] of Object.entries(config.sites ?? {})) {
    const field = `${prefix}.sites.${name}`;
    if (!known.has(name)) {
      const near = [...known].filter((k) => k.split(':')[0] === name.split(':')[0]);
      out.push({ field, message: `unknown fault site "${name}"; known: ${(near.length ? near : [...known]).join(', ')}` });
      continue;
    }
    if (f.rate !== undefined && !(f.rate >= 0 && f.rate <= 1)) out.push({ field: `${field}.rate`, message: `a probability in [0, 1], got ${f.rate}` });
    for (const n of f.nth ?? []) if (!(Number.isInteger(n) && n >= 1)) out.push({ field: `${field}.nth`, message: `call numbers start at 1, got ${n}` });
    if (f.errno !== undefined && !isErrnoName(f.errno)) out.push({ field: `${field}.errno`, message: `not an errno memhp knows: ${f.errno}` });
  }
  return out;
}

/** The default errno of a site (what `site()` callers should pass as their natural error). */
export const faultSiteErrno = (site: string): ErrnoName => FAULT_SITES.find((s) => s.site === site)?.errno ?? 'ENOMEM';
