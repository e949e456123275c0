/**
 * @memhp/fleet/local — the part of fleet a sweep on this machine needs: matrix expansion, the results table and
 * the local pool of worker processes, without the NATS client. A local sweep and each of its worker processes
 * load only this (the NATS client is a tenth of a worker's start-up CPU, paid once per process); `@memhp/fleet`
 * exports all of it too.
 */
export { FleetInputError, isFleetInputError, formatFleetLocation, type FleetLocation } from './errors.js';
export { loadSweepFile, parseSweep, pointId, canonicalJson, type Sweep, type SweepPoint, type Combination, type MatrixValue } from './matrix.js';
export { ResultsDir, errorRow, headOf, columnsOf, toCsv, CSV_FILE, JSONL_FILE, JOURNAL, type Cell, type ResultRow, type PointStatus } from './results.js';
export type { PointJob, PointRunner, WorkerCommand } from './job.js';
export { LocalPool, runLocalPool, serveIpcWorker, IpcChild, type PoolOptions, type PointProblem, type PointChecker } from './pool.js';
