/**
 * `memhp query <log> "<SQL>"`: SQL over a log through embedded DuckDB. The events are loaded into an in-memory
 * table `events(seq, time, op, cause, type, v, payload JSON, …)` with every top-level payload field also as its
 * own column (prefixed `p_` when it would clash), for analyses memhp did not foresee.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { examples } from '../program.js';
import { env, optSize } from './common.js';
import { onCleanup } from '../lifecycle.js';
import { formatSize, parseSize } from '../parse/size.js';
import { UserError } from '../errors.js';
import { readAll, type Envelope } from '../sim.js';
import { printJson, table } from '../render/output.js';

const BASE = ['seq', 'time', 'op', 'cause', 'type', 'v', 'payload'];

/** Column name and DuckDB type of every top-level payload field, in first-seen order. */
export function payloadColumns(events: readonly Envelope[]): Array<{ key: string; column: string; type: string }> {
  const kinds = new Map<string, Set<string>>();
  for (const e of events) {
    const p = e.payload;
    if (!p || typeof p !== 'object' || Array.isArray(p)) continue;
    for (const [k, v] of Object.entries(p)) {
      if (!kinds.has(k)) kinds.set(k, new Set());
      if (v === null || v === undefined) continue;
      kinds.get(k)!.add(typeof v === 'number' ? (Number.isSafeInteger(v) ? 'int' : 'float') : typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'json' : 'str');
    }
  }
  const used = new Set(BASE);
  return [...kinds].map(([key, set]) => {
    const t = set.size === 1 ? [...set][0] : set.size === 2 && set.has('int') && set.has('float') ? 'float' : set.has('json') ? 'json' : 'str';
    const type = t === 'int' ? 'BIGINT' : t === 'float' ? 'DOUBLE' : t === 'bool' ? 'BOOLEAN' : t === 'json' ? 'JSON' : 'VARCHAR';
    const safe = key.replace(/[^A-Za-z0-9_]/g, '_');
    // DuckDB column names are case-insensitive: two keys that differ only by case, or by replaced characters, get a suffix.
    let column = BASE.includes(safe.toLowerCase()) ? `p_${safe}` : safe;
    for (let n = 2; used.has(column.toLowerCase()); n++) column = `${safe}_${n}`;
    used.add(column.toLowerCase());
    return { key, column, type };
  });
}

/** Defaults: a query that takes longer, or more memory, is stopped with a message saying which limit it hit. */
export const DEFAULT_QUERY_TIMEOUT_S = 60;
export const DEFAULT_QUERY_MEMORY = '1G';

export interface QueryOptions {
  /** Seconds before the query process is killed. */
  readonly timeoutS?: number;
  /** DuckDB's memory_limit, in bytes; the process's address space is bounded a little above it. */
  readonly memoryBytes?: bigint;
  /** DuckDB with its default access (files, network, extensions): `--unsafe-full-access`. */
  readonly fullAccess?: boolean;
}

/** The worker script beside this module: dist/query-worker.js when built, src/query-worker.ts from source. */
function workerPath(): { path: string; execArgv: string[] } {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'query-worker.js'), join(here, '..', 'query-worker.js'), join(here, '..', 'query-worker.ts')]) {
    // From source (tests, development), the worker runs through tsx, as the CLI itself does there.
    if (existsSync(p)) return { path: p, execArgv: p.endsWith('.ts') ? ['--conditions=@memhp/source', '--import', 'tsx'] : [] };
  }
  throw new Error('query-worker script not found beside the memhp CLI');
}

export async function runQuery(events: readonly Envelope[], sql: string, opts: QueryOptions = {}): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const cols = payloadColumns(events);
  const columns = [
    { name: 'seq', type: 'BIGINT' }, { name: 'time', type: 'BIGINT' }, { name: 'op', type: 'BIGINT' }, { name: 'cause', type: 'BIGINT' },
    { name: 'type', type: 'VARCHAR' }, { name: 'v', type: 'INTEGER' }, { name: 'payload', type: 'JSON' },
    ...cols.map((c) => ({ name: c.column, type: c.type })),
  ];
  return queryInChild({ columns, sql }, opts, async (send, alive) => {
    let chunk: string[] = [];
    for (const e of events) {
      if (!alive()) break;
      const p = (e.payload ?? {}) as Record<string, unknown>;
      const row: unknown[] = [e.seq, e.time, e.op, e.cause, e.type, e.v, e.payload ?? null];
      // A VARCHAR column of mixed kinds holds each value's JSON text.
      for (const c of cols) {
        const v = Object.hasOwn(p, c.key) ? p[c.key] : undefined;
        row.push(v === undefined ? null : c.type === 'VARCHAR' && typeof v !== 'string' ? JSON.stringify(v) : v);
      }
      chunk.push(JSON.stringify(row));
      if (chunk.length >= 4096) {
        await send(`${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length) await send(`${chunk.join('\n')}\n`);
  });
}

/**
 * Run SQL in the query process (query-worker.ts) under the limits: killed at the timeout, DuckDB's memory limit
 * and an address-space bound, and the sandbox unless fullAccess. `setup` says what the table is (the events'
 * columns, whose rows `feed` sends, or a sweep's results.jsonl the process reads itself).
 */
export async function queryInChild(
  setup: { readonly sql: string; readonly columns?: ReadonlyArray<{ name: string; type: string }>; readonly jsonl?: string },
  opts: QueryOptions,
  feed?: (send: (text: string) => Promise<void>, alive: () => boolean) => Promise<void>,
): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const timeoutS = opts.timeoutS ?? DEFAULT_QUERY_TIMEOUT_S;
  const memoryBytes = opts.memoryBytes ?? parseSize(DEFAULT_QUERY_MEMORY);
  const w = workerPath();
  // Address space: DuckDB's limit, plus room for Node and DuckDB themselves (KiB for ulimit -v).
  const asKiB = (memoryBytes + (3n << 30n)) / 1024n;
  const args = [...w.execArgv, w.path].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // From source the bound is left out: tsx's WebAssembly reserves more address space than any such limit allows.
  const ulimit = w.path.endsWith('.ts') ? '' : `ulimit -v ${asKiB} 2>/dev/null; `;
  const child = spawn('/bin/sh', ['-c', `${ulimit}exec '${process.execPath.replace(/'/g, `'\\''`)}' ${args}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: dirname(w.path),
  });
  const unregister = onCleanup(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  child.stdin.on('error', () => {
    /* the worker died early; its exit says why */
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutS * 1000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  try {
    const send = async (line: string): Promise<void> => {
      if (!child.stdin.write(line)) await new Promise<void>((resolve) => { child.stdin.once('drain', resolve); child.once('close', resolve); });
    };
    await send(`${JSON.stringify({ ...setup, memoryLimit: `${memoryBytes}B`, fullAccess: Boolean(opts.fullAccess) })}\n`);
    await feed?.(send, () => child.exitCode === null && child.signalCode === null);
    child.stdin.end();
    const { code, signal } = await exited;
    if (timedOut) throw new UserError(`the query ran longer than ${timeoutS} s and was stopped; give more time with --timeout`, { field: 'query' });
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    const reply = line ? (JSON.parse(line) as { columns?: string[]; rows?: Array<Record<string, unknown>>; error?: string }) : null;
    if (reply?.error !== undefined) {
      const oom = /out of memory|memory limit|failed to allocate|std::bad_alloc/i.test(reply.error);
      throw new UserError(oom ? `the query needs more memory than --memory-limit ${formatSize(memoryBytes)} (${reply.error})` : `SQL: ${reply.error}`, { field: 'query' });
    }
    if (!reply?.columns || !reply.rows) {
      const oom = signal === 'SIGABRT' || signal === 'SIGSEGV' || /bad_alloc|out of memory|allocation failed/i.test(stderr);
      throw new UserError(
        oom ? `the query needs more memory than --memory-limit ${formatSize(memoryBytes)} allows (the query process ran out of address space)` : `the query process ended without an answer (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').pop() ?? ''}`,
        { field: 'query' },
      );
    }
    return { columns: reply.columns, rows: reply.rows };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    unregister();
  }
}

/** `--timeout`: seconds, or a number with s / m. */
export function parseTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m)?\s*$/.exec(v);
  const n = m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
  if (!(n > 0 && n <= 86400)) throw new UserError(`not a timeout: "${v}" (seconds, e.g. 30, 30s or 2m; at most a day)`, { field: '--timeout' });
  return n;
}

export function parseMemoryLimit(v: string | undefined): bigint | undefined {
  const b = optSize(v, '--memory-limit');
  if (b === undefined) return undefined;
  if (b < 16n << 20n || b > 1n << 40n) throw new UserError(`--memory-limit must be between 16M and 1T, got ${v}`, { field: '--memory-limit' });
  return b;
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('SQL over a log (DuckDB): table events(seq, time, op, cause, type, v, payload JSON, plus one column per payload field)')
    .argument('<log>', 'event log (file or nats://HOST:PORT/STREAM/SUBJECT), or a sweep results directory (table results)')
    .argument('<sql>', 'a SQL query over the events table')
    .option('--timeout <seconds>', `stop the query after this long (30, 30s, 2m)`, String(DEFAULT_QUERY_TIMEOUT_S))
    .option('--memory-limit <size>', 'memory the query may use (DuckDB memory_limit; the query process is bounded just above it)', DEFAULT_QUERY_MEMORY)
    .option(
      '--unsafe-full-access',
      'let the SQL do everything DuckDB can: read and write any file you can (read_csv, COPY TO, ATTACH, EXPORT DATABASE), reach the network and install or load extensions. Without it the SQL sees only the events table of the named log',
    )
    .addHelpText('after', examples([
      ['memhp query run.ndjson "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC"', 'event counts by type'],
      ['memhp query run.ndjson "SELECT source, granularity, count(*) FROM events WHERE type = \'vmemmap.populate\' GROUP BY ALL" --json', 'vmemmap mappings by source'],
    ]))
    .action(async (log: string, sql: string, o: { timeout?: string; memoryLimit?: string; unsafeFullAccess?: boolean }, cmd: Command) => {
      const { out } = await env(cmd);
      const timeoutS = parseTimeout(o.timeout);
      const memoryBytes = parseMemoryLimit(o.memoryLimit);
      const sweep = await import('../sweep/query-results.js');
      if (sweep.isResultsDir(log)) {
        const r = await sweep.queryResults(log, sql, { ...(timeoutS !== undefined ? { timeoutS } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}), fullAccess: Boolean(o.unsafeFullAccess) });
        if (out.json) return printJson(out, r.rows);
        out.line(table(out, r.columns, r.rows.map((row) => r.columns.map((c) => (row[c] === null || row[c] === undefined ? '' : typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c]))))));
        out.line(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
        return;
      }
      const { events } = await readAll(log);
      const r = await runQuery(events, sql, { ...(timeoutS !== undefined ? { timeoutS } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}), fullAccess: Boolean(o.unsafeFullAccess) });
      if (out.json) return printJson(out, r.rows);
      out.line(table(out, r.columns, r.rows.map((row) => r.columns.map((c) => (row[c] === null || row[c] === undefined ? '' : typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c]))))));
      out.line(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
    });
}
