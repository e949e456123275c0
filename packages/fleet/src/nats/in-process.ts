import type { PointJob, PointRunner } from '../job.js';
import { PointNotStarted } from '../pool.js';
import type { ResultRow } from '../results.js';

/**
 * Points run one after another in this process, with the interface of an IpcChild (the NATS worker uses either):
 * `run` queues a point behind the running one, `drop` gives back what is queued (PointNotStarted). Between two
 * points the event loop gets a turn, so the previous row's publish goes out and the next job is read while
 * nothing runs.
 */
export class InProcessRunner {
  readonly #queue: Array<{ job: PointJob; resolve: (r: ResultRow) => void; reject: (e: Error) => void }> = [];
  #busy = false;
  constructor(readonly runner: PointRunner) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  run(job: PointJob): Promise<ResultRow> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    while (this.#queue.length > 0) {
      await new Promise((r) => setImmediate(r));
      const next = this.#queue.shift();
      if (!next) break;
      try {
        next.resolve(await this.runner(next.job));
      } catch (e) {
        next.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    this.#busy = false;
  }

  drop(): void {
    for (const q of this.#queue.splice(0)) q.reject(new PointNotStarted('given back'));
  }

  close(): void {}

  kill(): void {}
}
