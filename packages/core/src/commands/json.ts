/** Commands in events: bigints (addresses, sizes) become "0x…" strings so a log line stays exact JSON. */
import type { Command } from '../api.js';
import { fromJsonSafe, toJsonSafe } from '../model/machine.js';

/** Commands are flat objects with at most one level of nesting (ranges): a direct walk is cheaper than the generic one. */
export function commandToJson(cmd: Command): unknown {
  const out: Record<string, unknown> = {};
  for (const k in cmd) {
    const v = (cmd as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (typeof v === 'bigint') out[k] = '0x' + v.toString(16);
    else if (Array.isArray(v)) out[k] = arrayToJson(v);
    else if (v !== null && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const kk in v) {
        const x = (v as Record<string, unknown>)[kk];
        if (x !== undefined) o[kk] = typeof x === 'bigint' ? '0x' + x.toString(16) : toJsonSafe(x);
      }
      out[k] = o;
    } else out[k] = v;
  }
  return out;
}
/** Arrays in commands are flag lists: strings are copied as they are, anything else goes through toJsonSafe. */
function arrayToJson(v: readonly unknown[]): unknown[] {
  const a = new Array<unknown>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    a[i] = typeof x === 'string' ? x : toJsonSafe(x);
  }
  return a;
}
export const commandFromJson = (v: unknown): Command => fromJsonSafe(v) as Command;
