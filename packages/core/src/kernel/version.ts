/**
 * Kernel versions memhp models. A version names the newest stable release of its series as distributions
 * ship it (6.1 means 6.1.y with its backports). Every rule that changed across releases is written once as a
 * {@link VersionRule} with the range it holds for (apps/docs/kernel/timeline.md#timeline), never as scattered version comparisons.
 */
/** The oldest and newest series memhp models; every series between them is accepted. */
export const OLDEST_SERIES = '5.10';
export const NEWEST_SERIES = '6.18';

/** The last minor number of each major series released (5.19 was followed by 6.0). */
const LAST_MINOR: Readonly<Record<number, number>> = { 5: 19 };

/** Every series a user can give, oldest first: 5.10 … 5.19, 6.0 … 6.18. */
export const KERNEL_SERIES: readonly KernelVersion[] = (() => {
  const out: KernelVersion[] = [];
  const [m0, n0] = OLDEST_SERIES.split('.').map(Number) as [number, number];
  const [m1, n1] = NEWEST_SERIES.split('.').map(Number) as [number, number];
  for (let major = m0; major <= m1; major++) {
    const last = major === m1 ? n1 : (LAST_MINOR[major] ?? 0);
    for (let minor = major === m0 ? n0 : 0; minor <= last; minor++) out.push(`${major}.${minor}` as KernelVersion);
  }
  return out;
})();

/**
 * Representative releases: the first release of the main rule changes (not every one: 5.11, 5.12, 5.15, 6.2 … also
 * change rules). Test matrices and property tests draw from these; `--kernel all` walks every series of
 * {@link KERNEL_SERIES} and merges neighbours that answer the same.
 */
export const SUPPORTED_KERNELS = ['5.10', '5.13', '5.14', '5.18', '5.19', '6.0', '6.1', '6.6', '6.8', '6.11', '6.18'] as const;

/**
 * A kernel version: a series "X.Y" (the newest stable release of that series as distributions ship it, with its
 * backports: 6.1 is 6.1.y, e.g. Debian's 6.1.192), or an exact stable release "X.Y.Z" (6.1.16), for which rules
 * whose change reached the series through a stable backport are picked by Z.
 */
export type KernelVersion = `${number}.${number}` | `${number}.${number}.${number}`;
export const DEFAULT_KERNEL: KernelVersion = '6.18';

export class UnsupportedKernelError extends Error {
  constructor(
    readonly given: string,
    why = `memhp models the series ${OLDEST_SERIES} to ${NEWEST_SERIES}`,
  ) {
    super(`unsupported kernel version "${given}": ${why}; give a series (6.12) or a stable release (6.1.16)`);
    this.name = 'UnsupportedKernelError';
  }
}

/**
 * "6.12" → "6.12", "v6.1.16" → "6.1.16". Refuses anything else, in particular a distribution's release string: a
 * Debian `uname -r` of 6.1.0-27-amd64 is the stable release 6.1.115 or so (see /proc/version), not 6.1.0.
 */
export function parseKernelVersion(s: string): KernelVersion {
  const t = s.trim().replace(/^v/, '');
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) {
    const looksLikeRelease = /^\d+\.\d+(\.\d+)?[-+~_]/.test(t);
    throw new UnsupportedKernelError(
      s,
      looksLikeRelease ? 'not X.Y or X.Y.Z (a distribution release string does not say which stable release it is; /proc/version does)' : 'not a kernel version',
    );
  }
  const series = `${Number(m[1])}.${Number(m[2])}`;
  if (!KERNEL_SERIES.includes(series as KernelVersion)) throw new UnsupportedKernelError(s);
  return (m[3] === undefined ? series : `${series}.${Number(m[3])}`) as KernelVersion;
}

/** The series of a version: "6.1.16" → "6.1". */
export const seriesOf = (v: KernelVersion): KernelVersion => v.split('.').slice(0, 2).join('.') as KernelVersion;

/** A series stands for its newest stable release: it compares after every X.Y.Z of the series. */
const NEWEST_STABLE = 999;

const versionKeys = new Map<string, number>();

/**
 * Numeric key for ordering a given version: 6.1 → 6001999 (the newest 6.1.y), 6.1.16 → 6001016, 5.19 → 5019999.
 * Accepts any "major.minor[.patch]", supported or not.
 */
export function versionKey(v: string): number {
  // memoised: version rules are picked on every hotplug step
  const hit = versionKeys.get(v);
  if (hit !== undefined) return hit;
  const k = parseVersionKey(v, NEWEST_STABLE);
  if (versionKeys.size < 1024) versionKeys.set(v, k);
  return k;
}

/** Numeric key of a rule boundary: "6.2" is the release 6.2 (6.2.0), "6.1.16" that stable release. */
const boundaryKeys = new Map<string, number>();

export function boundaryKey(b: string): number {
  // memoised like versionKey: defineRule probes every series against each bound when a rule module loads, which
  // every command pays for at start-up
  const hit = boundaryKeys.get(b);
  if (hit !== undefined) return hit;
  const k = parseVersionKey(b, 0);
  if (boundaryKeys.size < 1024) boundaryKeys.set(b, k);
  return k;
}

function parseVersionKey(v: string, seriesPatch: number): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(v.trim().replace(/^v/, ''));
  if (!m) throw new Error(`not a kernel version: "${v}" (expected major.minor or major.minor.patch, e.g. 6.1)`);
  const patch = m[3] === undefined ? seriesPatch : Math.min(Number(m[3]), NEWEST_STABLE - 1);
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 1_000 + patch;
}

/** The version is `since` or later (`since` a release: "6.2" or "6.1.16"). */
export const atLeast = (v: KernelVersion, since: string): boolean => versionKey(v) >= boundaryKey(since);
/** The version is older than `until` (a release: "6.2" or "6.1.16"). */
export const before = (v: KernelVersion, until: string): boolean => versionKey(v) < boundaryKey(until);

/**
 * One behaviour that holds from `since` (inclusive) until `until` (exclusive). A bound "X.Y" is the release X.Y;
 * "X.Y.Z" a stable release that got the change as a backport (a series X.Y given alone is its newest stable
 * release, so it is on the far side of every X.Y.Z bound).
 */
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
  // every series, and both sides of each stable-release bound (6.1.15 and 6.1.16 for a bound 6.1.16)
  const probes: string[] = [...KERNEL_SERIES];
  for (const r of rule.ranges) {
    for (const b of [r.since, r.until]) {
      const m = b === undefined ? null : /^(\d+\.\d+)\.(\d+)$/.exec(b);
      if (m) probes.push(b!, `${m[1]}.${Math.max(0, Number(m[2]) - 1)}`);
    }
  }
  for (const v of probes as KernelVersion[]) {
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
