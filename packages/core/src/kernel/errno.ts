/**
 * Linux errno values as the hotplug paths return them (negated in the kernel; we carry the name and the
 * positive number). apps/docs/kernel/index.md#units.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  ENXIO: 6,
  E2BIG: 7,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

export type ErrnoName = keyof typeof ERRNO;

export const isErrnoName = (s: string): s is ErrnoName => Object.prototype.hasOwnProperty.call(ERRNO, s);

/** A command's result: the kernel's 0, or a negative errno with the reason the kernel would log. */
export type KResult<T = undefined> =
  | ({ ok: true } & (T extends undefined ? { value?: undefined } : { value: T }))
  | { ok: false; errno: ErrnoName; why: string };

export const ok = <T = undefined>(...value: T extends undefined ? [] : [T]): KResult<T> =>
  ({ ok: true, value: value[0] }) as KResult<T>;

export const fail = (errno: ErrnoName, why: string): { ok: false; errno: ErrnoName; why: string } => ({
  ok: false,
  errno,
  why,
});
