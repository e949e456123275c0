// A local pool's worker process for the pool tests: serveIpcWorker with a runner that writes `start <label>` to
// $SLOW_WORKER_LOG and then keeps its thread busy for $SLOW_WORKER_MS, as a real point (synchronous model work)
// does, so nothing the parent sends meanwhile is read until it is done. With $SLOW_WORKER_PID set, each line ends
// with the process id.
import { appendFileSync } from 'node:fs';
import { headOf, serveIpcWorker } from '../../src/local.js';

const ms = Number(process.env.SLOW_WORKER_MS ?? 0);
serveIpcWorker(async (job) => {
  appendFileSync(process.env.SLOW_WORKER_LOG!, `start ${job.point.label}${process.env.SLOW_WORKER_PID ? ` ${process.pid}` : ''}\n`);
  const until = Date.now() + ms;
  while (Date.now() < until);
  return { ...headOf(job.point), status: 'ok', error: null };
});
