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
    else if (v !== null && typeof v === 'object') out[k] = toJsonSafe(v);
    else out[k] = v;
  }
  return out;
}
export const commandFromJson = (v: unknown): Command => fromJsonSafe(v) as Command;
