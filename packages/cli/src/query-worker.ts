/**
 * The process `memhp query` runs DuckDB in (see commands/query.ts). It reads, on stdin, one line with the table's
 * columns, the sandbox settings, then one JSON array per event row; appends them into an in-memory table (no file is
 * written anywhere); runs the SQL; and writes `{"columns":…,"rows":…}` or `{"error":…}` as one line on stdout.
 * For a sweep's results directory the first line names its results.jsonl instead, which becomes the table `results`
 * before the sandbox closes file access.
 * A separate process so that the parent can end a query DuckDB cannot interrupt (a 2 GB `repeat()`), and so that an
 * address-space limit (`ulimit -v`) bounds it.
 */
import { createInterface } from 'node:readline';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';

interface Setup {
  readonly columns?: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  /** A sweep's results.jsonl (absolute path), read as the table `results`. */
  readonly jsonl?: string;
  readonly sql: string;
  readonly memoryLimit: string;
  readonly fullAccess: boolean;
}

function append(ap: DuckDBAppender, type: string, v: unknown): void {
  if (v === null || v === undefined) return ap.appendNull();
  switch (type) {
    case 'BIGINT':
      return ap.appendBigInt(BigInt(v as number));
    case 'INTEGER':
      return ap.appendInteger(v as number);
    case 'DOUBLE':
      return ap.appendDouble(v as number);
    case 'BOOLEAN':
      return ap.appendBoolean(v as boolean);
    case 'JSON':
      return ap.appendVarchar(JSON.stringify(v));
    default:
      return ap.appendVarchar(typeof v === 'string' ? v : JSON.stringify(v));
  }
}

const reply = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return;
  const setup = JSON.parse(first.value) as Setup;
  // Sandboxed (the default): no file, network or extension access, a memory limit, and the settings locked so the
  // SQL cannot undo them (DuckDB "Securing DuckDB": enable_external_access, autoinstall/autoload, lock_configuration).
  const config: Record<string, string> = setup.fullAccess
    ? { memory_limit: setup.memoryLimit }
    : {
        // A results table is read from its file first; file access is closed right after (below).
        ...(setup.jsonl ? {} : { enable_external_access: 'false' }),
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        allow_community_extensions: 'false',
        memory_limit: setup.memoryLimit,
        max_temp_directory_size: '0B',
        threads: '2',
      };
  const instance = await DuckDBInstance.create(':memory:', config);
  const conn = await instance.connect();
  if (setup.jsonl) {
    try {
      await conn.run(`CREATE TABLE results AS SELECT * FROM read_json('${setup.jsonl.replace(/'/g, "''")}', format = 'newline_delimited', sample_size = -1)`);
    } catch (e) {
      return reply({ error: `reading ${setup.jsonl}: ${(e as Error).message.split('\n')[0]}` });
    }
    if (!setup.fullAccess) await conn.run('SET enable_external_access = false');
    return answer(conn, setup);
  }
  await conn.run(`CREATE TABLE events (${(setup.columns ?? []).map((c) => `"${c.name}" ${c.type}`).join(', ')})`);
  const ap = await conn.createAppender('events');
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    if (next.value === '') continue;
    const row = JSON.parse(next.value) as unknown[];
    setup.columns!.forEach((c, i) => append(ap, c.type, row[i]));
    ap.endRow();
  }
  ap.flushSync();
  ap.closeSync();
  await answer(conn, setup);
  instance.closeSync();
}

async function answer(conn: DuckDBConnection, setup: Setup): Promise<void> {
  if (!setup.fullAccess) await conn.run('SET lock_configuration = true');
  try {
    const reader = await conn.runAndReadAll(setup.sql);
    reply({ columns: reader.columnNames(), rows: reader.getRowObjectsJson() });
  } catch (e) {
    reply({ error: (e as Error).message.split('\n')[0] });
  }
  conn.closeSync();
}

main().catch((e: unknown) => {
  reply({ error: `query worker: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` });
});
