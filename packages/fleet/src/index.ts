/**
 * @memhp/fleet — sweeps over a configuration grid (Node only): matrix expansion, the results table, a local
 * pool of worker processes, and NATS JetStream as the work queue, results stream and log store. It runs points;
 * the model lives in @memhp/core and the CLI hands fleet the function that runs one point.
 */
export { FleetInputError, isFleetInputError, formatFleetLocation, type FleetLocation } from './errors.js';
export { loadSweepFile, parseSweep, pointId, canonicalJson, type Sweep, type SweepPoint, type Combination, type MatrixValue } from './matrix.js';
export { ResultsDir, errorRow, headOf, columnsOf, toCsv, CSV_FILE, JSONL_FILE, JOURNAL, type Cell, type ResultRow, type PointStatus } from './results.js';
export type { PointJob, PointRunner, WorkerCommand } from './job.js';
export { LocalPool, runLocalPool, serveIpcWorker, IpcChild, PointNotStarted, type PoolOptions, type PointProblem, type PointChecker } from './pool.js';
export { openNats, parseServerUrl, parseLogUrl, isNatsUrl, type NatsOptions, type NatsSession, type NatsLogUrl } from './nats/connect.js';
export { runNatsSweep, runNatsWorker, listPointLogs, fetchPointLog, ensureQueue, sweepIdOf, DEFAULT_QUEUE, JOBS_STREAM, RESULTS_STREAM, WORKERS, LOG_BUCKET, type QueueSettings, type NatsSweepOptions, type NatsWorkerOptions } from './nats/sweep.js';
export { openNatsLogWriter, natsLogChunks, CHUNK_BYTES } from './nats/log.js';
export { startNatsServer, freePort, type NatsServer } from './nats/server.js';
