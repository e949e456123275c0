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

export async function queryResults(dir: string, sql: string): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const file = join(dir, 'results.jsonl');
  if (!existsSync(file)) throw new UserError('not a sweep results directory (no results.jsonl); memhp query takes a log or a directory memhp sweep wrote', { file: dir });
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(`CREATE VIEW results AS SELECT * FROM read_json('${file.replace(/'/g, "''")}', format = 'newline_delimited', sample_size = -1)`);
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
