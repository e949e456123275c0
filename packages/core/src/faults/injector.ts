/**
 * Seeded, deterministic fault injection (apps/docs/kernel/vmemmap.md#sources "retry, may fail"; apps/docs/concepts/design.md#determinism).
 * Sites are named; core checks `pmd`, `order0` and `slab` allocations, other modules declare their own sites
 * (`notifier:MEM_GOING_ONLINE`, `offline:unmovable` …) and configure them through {@link FaultConfig.sites}.
 * Every injected fault is reported through `onFault`, which the simulator turns into a `fault.inject` event.
 */
import type { ErrnoName } from '../kernel/errno.js';
import { createRng, type Rng } from './rng.js';

export interface SiteFault {
  /** Probability in [0, 1] that one call of the site fails. */
  readonly rate?: number;
  /** 1-based call numbers of the site that fail (deterministic without randomness). */
  readonly nth?: readonly number[];
  /** Error the site returns (default: the site's natural error, usually ENOMEM). */
  readonly errno?: ErrnoName;
}

export interface FaultConfig {
  /** Probability that a runtime PMD_SIZE vmemmap allocation from the page allocator fails. */
  readonly pmdAllocFailRate?: number;
  /**
   * Fragmentation model: only this many free PMD-sized (2 MiB on x86) blocks exist in the page allocator; each
   * runtime PMD allocation takes one, freeing a buddy PMD leaf gives one back. Absent → unlimited.
   */
  readonly freePmdBlocks?: number;
  /** Probability that an order-0 page allocation (vmemmap base page, page-table page) fails. */
  readonly order0FailRate?: number;
  /** Probability that a small kernel allocation (section root, usage, memory block device) fails. */
  readonly slabFailRate?: number;
  readonly sites?: Readonly<Record<string, SiteFault>>;
}

export interface FaultDecision {
  readonly site: string;
  readonly errno: ErrnoName;
  readonly reason: string;
}

export type FaultListener = (d: FaultDecision, detail: Readonly<Record<string, string | number | boolean>>) => void;

export interface FaultInjector {
  readonly config: FaultConfig;
  /**
   * False when nothing is configured: then every check below returns null and changes nothing, so a hot path
   * may skip the call (and building its detail object) with `faults.active && faults.site(…)`.
   */
  readonly active: boolean;
  /** A runtime PMD_SIZE allocation from the page allocator. */
  pmdAlloc(detail?: Readonly<Record<string, string | number | boolean>>): FaultDecision | null;
  /** A PMD_SIZE block went back to the page allocator (fragmentation model). */
  pmdFreed(): void;
  order0Alloc(detail?: Readonly<Record<string, string | number | boolean>>): FaultDecision | null;
  slabAlloc(what: string, detail?: Readonly<Record<string, string | number | boolean>>): FaultDecision | null;
  /** Any other named site; null = no fault. */
  site(name: string, detail?: Readonly<Record<string, string | number | boolean>>): FaultDecision | null;
  /** Free PMD blocks left in the fragmentation model (Infinity when not modelled). */
  readonly freePmdBlocks: number;
  setListener(fn: FaultListener | null): void;
}

export function createFaultInjector(config: FaultConfig = {}, seed = 0): FaultInjector {
  const rng: Rng = createRng(seed ^ 0x5eed);
  const calls = new Map<string, number>();
  let freePmd = config.freePmdBlocks ?? Infinity;
  let listener: FaultListener | null = null;

  const fire = (d: FaultDecision, detail: Readonly<Record<string, string | number | boolean>>): FaultDecision => {
    listener?.(d, detail);
    return d;
  };
  const roll = (rate: number | undefined): boolean => rate !== undefined && rate > 0 && rng.next() < rate;
  // sites are looked up on every allocation of every hotplug step: without configured sites none can fire
  const sites = config.sites && Object.keys(config.sites).length > 0 ? config.sites : null;
  const named = (name: string, fallback: ErrnoName, detail: Readonly<Record<string, string | number | boolean>>) => {
    const s = sites?.[name];
    if (!s) return null;
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    if (s.nth?.includes(n) || roll(s.rate)) {
      return fire({ site: name, errno: s.errno ?? fallback, reason: s.nth?.includes(n) ? `call #${n}` : `rate ${s.rate}` }, detail);
    }
    return null;
  };

  const active =
    sites !== null || !!config.pmdAllocFailRate || !!config.order0FailRate || !!config.slabFailRate || config.freePmdBlocks !== undefined;

  return {
    config,
    active,
    get freePmdBlocks() {
      return freePmd;
    },
    pmdAlloc(detail = {}) {
      const n = named('pmd', 'ENOMEM', detail);
      if (n) return n;
      if (freePmd <= 0) return fire({ site: 'pmd', errno: 'ENOMEM', reason: 'fragmentation: no free PMD-sized block' }, detail);
      if (roll(config.pmdAllocFailRate)) return fire({ site: 'pmd', errno: 'ENOMEM', reason: `rate ${config.pmdAllocFailRate}` }, detail);
      freePmd -= 1;
      return null;
    },
    pmdFreed() {
      if (freePmd !== Infinity) freePmd += 1;
    },
    order0Alloc(detail = {}) {
      const n = named('order0', 'ENOMEM', detail);
      if (n) return n;
      if (roll(config.order0FailRate)) return fire({ site: 'order0', errno: 'ENOMEM', reason: `rate ${config.order0FailRate}` }, detail);
      return null;
    },
    slabAlloc(what, detail = {}) {
      const n = sites === null ? null : (named(`slab:${what}`, 'ENOMEM', detail) ?? named('slab', 'ENOMEM', detail));
      if (n) return n;
      if (roll(config.slabFailRate)) return fire({ site: `slab:${what}`, errno: 'ENOMEM', reason: `rate ${config.slabFailRate}` }, detail);
      return null;
    },
    site(name, detail = {}) {
      return sites === null ? null : named(name, 'ENOMEM', detail);
    },
    setListener(fn) {
      listener = fn;
    },
  };
}
