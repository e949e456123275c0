import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { LogHeader } from '../header.js';
import { parseHeaderLine } from '../line.js';
import { LogError } from '../log-error.js';
import { DEFAULT_MAX_LINE_BYTES, observeBatches, readLogStream, SourceError, type BatchedLogReader, type ReadOptions } from '../reader.js';

const CHUNK_BYTES = 1 << 20;

export interface NodeReadOptions extends Omit<ReadOptions, 'file' | 'resume'> {
  /** Name shown in messages; default the path's base name. */
  displayName?: string;
  /** Start at an index entry instead of the beginning (plain .ndjson only): see buildLogIndex. */
  from?: { seq: number; line: number; offset: number };
}

export function isGzipPath(path: string): boolean {
  return path.endsWith('.gz');
}

/**
 * Open a `.ndjson` or `.ndjson.gz` log as a streaming, validating reader. A `.gz` name means gzip; so does a
 * file that starts with the gzip magic bytes whatever its name (a renamed log still reads).
 */
export function openLogReader(path: string, opts: NodeReadOptions): BatchedLogReader {
  const file = opts.displayName ?? basename(path);
  const base: ReadOptions = { ...opts, file };
  if (!opts.from) {
    return readLogStream(
      (async function* () {
        yield* chunks(path, isGzipPath(path) || (await hasGzipMagic(path)));
      })(),
      base,
    );
  }
  const from = opts.from;
  if (isGzipPath(path)) {
    throw new LogError('io', { file, line: from.line }, 'cannot seek into a gzip log; an index needs an uncompressed .ndjson');
  }
  // The header comes from the top of the file; events from the indexed offset.
  let header: LogHeader | undefined;
  const resumed = (async function* () {
    header = await readHeaderAt(path, file, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    yield* chunks(path, false, from.offset);
  })();
  let inner: BatchedLogReader | undefined;
  const ready = async (): Promise<BatchedLogReader> => {
    if (inner) return inner;
    const first = await resumed.next();
    inner = readLogStream(
      (async function* () {
        if (!first.done) yield first.value;
        yield* resumed;
      })(),
      { ...base, resume: { header: header!, seq: from.seq - 1, line: from.line } },
    );
    return inner;
  };
  const batches = () => ({ [Symbol.asyncIterator]: () => lazyIterator(async () => (await ready()).batches()) });
  return {
    header: async () => (await ready()).header(),
    batches,
    events: () => ({ [Symbol.asyncIterator]: () => lazyIterator(async () => (await ready()).events()) }),
    observable: () => observeBatches(batches),
  };
}

function lazyIterator<T>(get: () => Promise<AsyncIterable<T>>): AsyncIterator<T> {
  let it: AsyncIterator<T> | undefined;
  const target = async () => (it ??= (await get())[Symbol.asyncIterator]());
  return {
    next: async () => (await target()).next(),
    return: async (v?: unknown) => {
      const t = await target();
      return t.return ? t.return(v) : { done: true, value: undefined };
    },
  };
}

async function hasGzipMagic(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return false; // the stream reports the error, located
  }
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Read and parse line 1 of a plain log without streaming the rest. */
export async function readHeaderAt(path: string, file: string, maxLineBytes: number): Promise<LogHeader> {
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw new LogError('io', { file, line: 1 }, e instanceof Error ? e.message : String(e));
  });
  try {
    const buf = Buffer.alloc(Math.min(maxLineBytes + 1, 1 << 20));
    let len = 0;
    let nl = -1;
    while (nl < 0 && len < buf.length) {
      const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) break;
      nl = buf.subarray(len, len + bytesRead).indexOf(0x0a);
      if (nl >= 0) nl += len;
      len += bytesRead;
    }
    if (nl < 0) throw new LogError('missing-header', { file, line: 1 }, 'no complete header line at the top of the log');
    return parseHeaderLine(buf.toString('utf8', 0, nl), { file, line: 1 });
  } finally {
    await fh.close();
  }
}

/** The file's bytes (decompressed for gzip), with stream failures classified for the reader. */
async function* chunks(path: string, gzip: boolean, start = 0): AsyncGenerator<Uint8Array> {
  const file = createReadStream(path, { highWaterMark: CHUNK_BYTES, start });
  const gunzip = gzip ? createGunzip({ chunkSize: 256 * 1024 }) : undefined;
  // pipeline forwards a read error into gunzip, so the loop below sees every failure.
  if (gunzip) pipeline(file, gunzip, () => {});
  try {
    for await (const chunk of gunzip ?? file) yield chunk as Buffer;
  } catch (e) {
    throw classify(e);
  } finally {
    file.destroy();
    gunzip?.destroy();
  }
}

function classify(e: unknown): SourceError {
  const err = e as NodeJS.ErrnoException;
  const msg = err?.message ?? String(e);
  if (err?.code === 'Z_BUF_ERROR') return new SourceError('truncated', `gzip stream truncated (${msg})`);
  if (typeof err?.code === 'string' && err.code.startsWith('Z_')) return new SourceError('corrupt-gzip', `corrupt gzip stream (${msg})`);
  return new SourceError('io', msg);
}
