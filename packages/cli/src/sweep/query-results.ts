/**
 * `memhp query results/ "select …"`: SQL over a sweep's results directory. DuckDB reads results.jsonl (JSON
 * Lines, one row per point) as the table `results`, with column types inferred from the rows, in the same query
 * process as a log's query: killed at --timeout, bounded by --memory-limit, sandboxed unless --unsafe-full-access.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { queryInChild, type QueryOptions } from '../commands/query.js';

export function isResultsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** SQL over results.jsonl in the query process, with the limits and sandbox of any `memhp query` (commands/query.ts). */
export async function queryResults(dir: string, sql: string, opts: QueryOptions): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const file = resolve(dir, 'results.jsonl');
  if (!existsSync(file)) throw new UserError('not a sweep results directory (no results.jsonl); memhp query takes a log or a directory memhp sweep wrote', { file: dir });
  return queryInChild({ sql, jsonl: file }, opts);
}
