/** What travels to a worker (over IPC or as a JetStream message) and what a worker runs it with. */
import type { SweepPoint } from './matrix.js';
import type { ResultRow } from './results.js';

export interface PointJob {
  /** The sweep file's name, for messages. */
  readonly file: string;
  readonly point: SweepPoint;
  /** Record this point's log as `<dir>/<point id>.ndjson`. */
  readonly logs?: { readonly dir: string };
}

/** The model side of a worker, given by the CLI: fleet runs points, it never simulates them. */
export type PointRunner = (job: PointJob) => Promise<ResultRow>;

/** How to start one worker process: the `memhp` binary with the arguments that make it a stdio worker. */
export interface WorkerCommand {
  /** The script Node runs (the `memhp` bin), with the Node flags it was started with (e.g. a TS loader). */
  readonly script: string;
  readonly execArgv: readonly string[];
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}
