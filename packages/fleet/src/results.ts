/**
 * The results table of a sweep: one row per point, written as `results.csv` and `results.jsonl` (JSON Lines,
 * which DuckDB's read_json reads) in point order, so the table is the same whatever ran first or where. While
 * the sweep runs, finished rows are appended to a journal (`.journal.jsonl`), which `--resume` reads back
 * and an interrupted sweep leaves behind. Appends are batched (rows that come within 200 ms of the last write go
 * together, at most 64, and at `flush`), so the sweep's own process does little per point; a row lost with a killed sweep only runs again on --resume.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SweepPoint } from './matrix.js';
import { FleetInputError } from './errors.js';

export type Cell = string | number | boolean | null;
export type ResultRow = Readonly<Record<string, Cell>>;

/** How a point ended: it ran (`ok`), a step or an expect failed (`failed`), it could not run (`error`), or it was dead-lettered (`dead`). */
export type PointStatus = 'ok' | 'failed' | 'error' | 'dead';

export const JOURNAL = '.journal.jsonl';
/** Journal rows that arrive within this many ms of the last write are written together. */
const FLUSH_MS = 200;
export const CSV_FILE = 'results.csv';
export const JSONL_FILE = 'results.jsonl';

/** The row of a point that never produced one of its own (it threw, or every delivery of it was lost). */
export function errorRow(p: SweepPoint, status: 'error' | 'dead', message: string): ResultRow {
  return { ...headOf(p), status, error: message };
}

/** The first columns of every row: id, label, then the matrix values (objects as JSON). */
export function headOf(p: SweepPoint): Record<string, Cell> {
  const row: Record<string, Cell> = { point: p.id, label: p.label };
  for (const [k, v] of Object.entries(p.params)) {
    const col = k === 'point' || k === 'label' || k === 'status' || k === 'error' ? `matrix_${k}` : k.replace(/-/g, '_');
    row[col] = typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
  }
  return row;
}

export class ResultsDir {
  readonly dir: string;
  readonly #journal: string;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = -Infinity;
  constructor(dir: string) {
    this.dir = dir;
    this.#journal = join(dir, JOURNAL);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new FleetInputError(`cannot create the results directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: dir });
    }
  }

  /** Rows already done (journal of an earlier run), by point id; the last row of a point wins. */
  done(): Map<string, ResultRow> {
    const m = new Map<string, ResultRow>();
    if (!existsSync(this.#journal)) return m;
    for (const line of readFileSync(this.#journal, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as ResultRow;
        if (typeof r.point === 'string') m.set(r.point, r);
      } catch {
        // A torn last line of a killed sweep: that point runs again.
      }
    }
    return m;
  }

  /** Start a fresh journal (a sweep without --resume). */
  reset(): void {
    this.#pending = [];
    writeFileSync(this.#journal, '');
  }

  append(row: ResultRow): void {
    this.#pending.push(`${JSON.stringify(row)}\n`);
    const since = performance.now() - this.#lastWrite;
    // A row after a quiet spell is written at once (slow points: every row); rows that come quickly, together.
    if (this.#pending.length >= 64 || since >= FLUSH_MS) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS - since).unref();
  }

  /** Write the rows appended since the last write to the journal. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#lastWrite = performance.now();
    appendFileSync(this.#journal, text);
  }

  /** Write results.csv and results.jsonl for these points (rows in point order); returns the columns. */
  writeTables(points: readonly SweepPoint[], rows: ReadonlyMap<string, ResultRow>): string[] {
    this.flush();
    const ordered = points.map((p) => rows.get(p.id)).filter((r): r is ResultRow => r !== undefined);
    const columns = columnsOf(ordered);
    atomicWrite(join(this.dir, JSONL_FILE), ordered.map((r) => `${JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null])))}\n`).join(''));
    atomicWrite(join(this.dir, CSV_FILE), toCsv(columns, ordered));
    return columns;
  }
}

/** Columns in order of first appearance over rows in point order, with status and error right after the matrix values. */
export function columnsOf(rows: readonly ResultRow[]): string[] {
  const cols: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (seen.has(k)) continue;
      seen.add(k);
      cols.push(k);
    }
  }
  const rest = cols.filter((c) => c !== 'status' && c !== 'error');
  // point, label and the matrix values lead every row (headOf); status and error follow them.
  const nHead = rows.length ? Object.keys(rows[0]!).indexOf('status') : -1;
  const head = nHead > 0 ? rest.slice(0, nHead) : rest.slice(0, 2);
  return [...head, 'status', 'error', ...rest.slice(head.length)];
}

export function toCsv(columns: readonly string[], rows: readonly ResultRow[]): string {
  const cell = (v: Cell | undefined): string => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
