/**
 * Presentation: colour only on a TTY and never with NO_COLOR (https://no-color.org), tables with cli-table3,
 * JSON with bigints as exact strings. Commands write through an {@link Out} so tests and `--json` share paths.
 */
import pc from 'picocolors';
import Table from 'cli-table3';

export interface Out {
  readonly json: boolean;
  readonly color: boolean;
  line(s?: string): void;
  err(s: string): void;
}

export function wantColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export function createOut(json: boolean): Out {
  const color = !json && wantColor(process.stdout);
  return {
    json,
    color,
    line: (s = '') => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
  };
}

export type Painter = (s: string) => string;
const id: Painter = (s) => s;

export function paint(out: { color: boolean }) {
  const c = out.color;
  return {
    bold: c ? pc.bold : id,
    dim: c ? pc.dim : id,
    red: c ? pc.red : id,
    green: c ? pc.green : id,
    yellow: c ? pc.yellow : id,
    cyan: c ? pc.cyan : id,
  };
}

/** JSON.stringify with bigint → decimal string (exact), as memhp's JSON output documents it. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? (x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()) : x), 2);
}

export function printJson(out: Out, v: unknown): void {
  out.line(toJson(v));
}

/** A plain table; `head` may be empty for key/value tables. Columns that hold numbers are right-aligned. */
export function table(out: { color: boolean }, head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | bigint>>): string {
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint'));
  const t = new Table({
    head: head.map((h) => (out.color ? pc.bold(h) : h)),
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: ' ',
    },
    colAligns: numeric.map((n) => (n ? 'right' : 'left')),
  });
  for (const r of rows) t.push(r.map((x) => String(x)));
  return t
    .toString()
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n');
}

export function kv(out: { color: boolean }, rows: ReadonlyArray<readonly [string, string | number | bigint]>): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  const p = paint(out);
  return rows.map(([k, v]) => `${p.dim(k.padEnd(w))}  ${String(v)}`).join('\n');
}
