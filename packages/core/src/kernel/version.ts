/**
 * Kernel versions memhp models. A version names the newest stable release of its series as distributions
 * ship it (6.1 means 6.1.y with its backports). Every rule that changed across releases is written once as a
 * {@link VersionRule} with the range it holds for (apps/docs/kernel/timeline.md#timeline), never as scattered version comparisons.
 */
export const SUPPORTED_KERNELS = ['5.10', '5.13', '5.14', '5.18', '5.19', '6.0', '6.1', '6.6', '6.8', '6.11', '6.18'] as const;
export type KernelVersion = (typeof SUPPORTED_KERNELS)[number];
export const DEFAULT_KERNEL: KernelVersion = '6.18';

export class UnsupportedKernelError extends Error {
  constructor(readonly given: string) {
    super(`unsupported kernel version "${given}"; supported: ${SUPPORTED_KERNELS.join(', ')}`);
    this.name = 'UnsupportedKernelError';
  }
}

export function parseKernelVersion(s: string): KernelVersion {
  const t = s.trim().replace(/^v/, '');
  if ((SUPPORTED_KERNELS as readonly string[]).includes(t)) return t as KernelVersion;
  throw new UnsupportedKernelError(s);
}

const versionKeys = new Map<string, number>();

/** Numeric key for ordering: 6.1 → 601, 5.19 → 519. Accepts any "major.minor", supported or not. */
export function versionKey(v: string): number {
  // memoised: version rules are picked on every hotplug step
  const hit = versionKeys.get(v);
  if (hit !== undefined) return hit;
  const k = parseVersionKey(v);
  if (versionKeys.size < 1024) versionKeys.set(v, k);
  return k;
}

function parseVersionKey(v: string): number {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim().replace(/^v/, ''));
  if (!m) throw new Error(`not a kernel version: "${v}" (expected major.minor, e.g. 6.1)`);
  return Number(m[1]) * 100 + Number(m[2]);
}

export const atLeast = (v: KernelVersion, since: string): boolean => versionKey(v) >= versionKey(since);
export const before = (v: KernelVersion, until: string): boolean => versionKey(v) < versionKey(until);

/** One behaviour that holds from `since` (inclusive) until `until` (exclusive). */
export interface VersionRange {
  readonly since?: string;
  readonly until?: string;
}

export const inRange = (v: KernelVersion, r: VersionRange): boolean =>
  (r.since === undefined || atLeast(v, r.since)) && (r.until === undefined || before(v, r.until));

/**
 * A rule that changed across releases: an ordered list of ranges with the value each range has.
 * `pick` returns the value whose range contains the version; the ranges must cover every supported version.
 */
export interface VersionRule<T> {
  readonly name: string;
  /** Where the change is documented: the kernel reference (apps/docs/kernel/) section and/or kernel commit. */
  readonly source: string;
  readonly ranges: ReadonlyArray<VersionRange & { readonly value: T; readonly note?: string }>;
}

export function defineRule<T>(rule: VersionRule<T>): VersionRule<T> {
  for (const v of SUPPORTED_KERNELS) {
    const n = rule.ranges.filter((r) => inRange(v, r)).length;
    if (n !== 1) throw new Error(`version rule ${rule.name}: ${n} ranges match kernel ${v} (need exactly one)`);
  }
  return rule;
}

const picked = new WeakMap<object, Map<string, { value: unknown }>>();

export function pick<T>(rule: VersionRule<T>, v: KernelVersion): T {
  // memoised per rule and version (one lookup per level, the value boxed so falsy values hit too): rules are
  // constant and picked on every hotplug step
  let m = picked.get(rule);
  const hit = m?.get(v);
  if (hit !== undefined) return hit.value as T;
  const r = rule.ranges.find((x) => inRange(v, x));
  if (!r) throw new Error(`version rule ${rule.name} has no value for ${v}`);
  if (!m) picked.set(rule, (m = new Map()));
  m.set(v, { value: r.value });
  return r.value;
}
