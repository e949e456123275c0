/** Commands in events: bigints (addresses, sizes) become "0x…" strings so a log line stays exact JSON. */
import type { Command } from '../api.js';
import { fromJsonSafe, toJsonSafe } from '../model/machine.js';

export const commandToJson = (cmd: Command): unknown => toJsonSafe(cmd);
export const commandFromJson = (v: unknown): Command => fromJsonSafe(v) as Command;
