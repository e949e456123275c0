/** @memhp/events/node — file I/O for logs: streaming writer (plain and gzip), reader, byte index, checkpoints. */
export { openLogWriter } from './node/writer.js';
export type { LogWriter, LogWriterOptions } from './node/writer.js';
export { openLogReader, readHeaderAt, isGzipPath } from './node/reader.js';
export type { NodeReadOptions } from './node/reader.js';
export {
  buildLogIndex,
  writeLogIndex,
  loadLogIndex,
  logIndexPath,
  indexEntryFor,
  readEventsAt,
  buildCheckpoints,
  stateAt,
  LogIndexSchema,
} from './node/log-index.js';
export type { LogIndex, Checkpoints, FoldOptions } from './node/log-index.js';
