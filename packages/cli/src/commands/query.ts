/**
 * `memhp query <log> "<SQL>"`: SQL over a log through embedded DuckDB. The events are loaded into an in-memory
 * table `events(seq, time, op, cause, type, v, payload JSON, …)` with every top-level payload field also as its
 * own column (prefixed `p_` when it would clash), for analyses memhp did not foresee.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { examples } from '../program.js';
import { env } from './common.js';
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
      kinds.get(k)!.add(typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'json' : 'str');
    }
  }
  return [...kinds].map(([key, set]) => {
    const t = set.size === 1 ? [...set][0] : set.size === 2 && set.has('int') && set.has('float') ? 'float' : set.has('json') ? 'json' : 'str';
    const type = t === 'int' ? 'BIGINT' : t === 'float' ? 'DOUBLE' : t === 'bool' ? 'BOOLEAN' : t === 'json' ? 'JSON' : 'VARCHAR';
    const safe = key.replace(/[^A-Za-z0-9_]/g, '_');
    return { key, column: BASE.includes(safe.toLowerCase()) ? `p_${safe}` : safe, type };
  });
}

export async function runQuery(events: readonly Envelope[], sql: string): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const cols = payloadColumns(events);
  const dir = mkdtempSync(join(tmpdir(), 'memhp-query-'));
  try {
    const file = join(dir, 'events.ndjson');
    const lines: string[] = [];
    for (const e of events) {
      const row: Record<string, unknown> = { seq: e.seq, time: e.time, op: e.op, cause: e.cause, type: e.type, v: e.v, payload: e.payload ?? null };
      const p = (e.payload ?? {}) as Record<string, unknown>;
      for (const c of cols) {
        const v = p[c.key];
        // JSON columns take the value as is; a VARCHAR column of mixed kinds holds each value's JSON text.
        row[c.column] = v === undefined ? null : c.type === 'VARCHAR' && typeof v !== 'string' ? JSON.stringify(v) : v;
      }
      lines.push(JSON.stringify(row));
    }
    writeFileSync(file, lines.join('\n') + '\n');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const colSpec = [
      "seq: 'BIGINT'", "time: 'BIGINT'", "op: 'BIGINT'", "cause: 'BIGINT'", "type: 'VARCHAR'", "v: 'INTEGER'", "payload: 'JSON'",
      ...cols.map((c) => `"${c.column}": '${c.type}'`),
    ].join(', ');
    await conn.run(`CREATE TABLE events AS SELECT * FROM read_json('${file.replace(/'/g, "''")}', format = 'newline_delimited', columns = {${colSpec}})`);
    let reader;
    try {
      reader = await conn.runAndReadAll(sql);
    } catch (e) {
      throw new UserError(`SQL: ${(e as Error).message.split('\n')[0]}`, { field: 'query' });
    } finally {
      // closing happens when the instance is collected; nothing else holds the file.
    }
    const columns = reader.columnNames();
    const rows = reader.getRowObjectsJson() as Array<Record<string, unknown>>;
    conn.closeSync?.();
    return { columns, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('SQL over a log (DuckDB): table events(seq, time, op, cause, type, v, payload JSON, plus one column per payload field)')
    .argument('<log>', 'event log (file or nats://HOST:PORT/STREAM/SUBJECT), or a sweep results directory (table results)')
    .argument('<sql>', 'a SQL query over the events table')
    .addHelpText('after', examples([
      ['memhp query run.ndjson "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC"', 'event counts by type'],
      ['memhp query run.ndjson "SELECT source, granularity, count(*) FROM events WHERE type = \'vmemmap.populate\' GROUP BY ALL" --json', 'vmemmap mappings by source'],
    ]))
    .action(async (log: string, sql: string, _o: unknown, cmd: Command) => {
      const { out } = await env(cmd);
      const sweep = await import('../sweep/query-results.js');
      const r = sweep.isResultsDir(log) ? await sweep.queryResults(log, sql) : await runQuery((await readAll(log)).events, sql);
      if (out.json) return printJson(out, r.rows);
      out.line(table(out, r.columns, r.rows.map((row) => r.columns.map((c) => (row[c] === null || row[c] === undefined ? '' : typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c]))))));
      out.line(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
    });
}
