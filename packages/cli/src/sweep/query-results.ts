/**
 * `memhp query results/ "select …"`: SQL over a sweep's results directory. DuckDB reads results.jsonl (JSON
 * Lines, one row per point) as the table `results`, with column types inferred from the rows.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

export function isResultsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export async function queryResults(
  dir: string,
  sql: string,
  opts: { memoryBytes: bigint; fullAccess: boolean },
): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const file = join(dir, 'results.jsonl');
  if (!existsSync(file)) throw new UserError('not a sweep results directory (no results.jsonl); memhp query takes a log or a directory memhp sweep wrote', { file: dir });
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    memory_limit: `${opts.memoryBytes}B`,
    max_temp_directory_size: '0B',
  });
  const conn = await instance.connect();
  try {
    // The table is read in first; then, as for a log (query-worker.ts), the SQL gets no file, network or extension
    // access and cannot change the settings back, unless --unsafe-full-access.
    await conn.run(`CREATE TABLE results AS SELECT * FROM read_json('${file.replace(/'/g, "''")}', format = 'newline_delimited', sample_size = -1)`);
    if (!opts.fullAccess) {
      await conn.run('SET enable_external_access = false');
      await conn.run('SET lock_configuration = true');
    }
    let reader;
    try {
      reader = await conn.runAndReadAll(sql);
    } catch (e) {
      throw new UserError(`SQL: ${(e as Error).message.split('\n')[0]}`, { field: 'query' });
    }
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Array<Record<string, unknown>> };
  } finally {
    conn.closeSync?.();
  }
}
