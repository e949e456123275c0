/// <reference lib="webworker" />
/**
 * The viewer's replay worker: owns the LogSession (model state, snapshots) so a million-event log loads and
 * scrubs without blocking the page. The page sends `open` and `seek`; seeks that arrive while one is running
 * are coalesced to the latest.
 */
import { loadViewerApi } from './core-adapter.js';
import { encodeFrame, type Frame, type FromWorker, type ToWorker } from './protocol.js';
import { LogSession } from './session.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);

let session: LogSession | null = null;
/**
 * The frame posted last (of whichever log): the page has its sections and PMD entries. Never reset: the page
 * decodes every frame posted, in order, against the one before (LogViewer's lastDecoded).
 */
let lastFrame: Frame | null = null;
let pendingSeek: number | null = null;
let seeking = false;
let upkeepRunning = false;
/** When the last seek arrived or was answered, whichever is later. */
let lastSeekAt = 0;
/**
 * Upkeep waits until no seek has come for this long: a step (an unpack, a replay and a pack) cannot be cut short,
 * and one started between two seeks of a drag made the second wait for it (browser bench: worst seek 2.6 s).
 */
const QUIET_MS = 500;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function drainSeeks(): Promise<void> {
  if (seeking || !session) return;
  seeking = true;
  try {
    while (pendingSeek !== null) {
      const seq = pendingSeek;
      pendingSeek = null;
      const t0 = performance.now();
      const f = await session.frameAt(seq);
      // sections and PMD entries the page has from the frame before are not sent again
      const { wire, transfer } = encodeFrame(f, lastFrame);
      lastFrame = f;
      post({ kind: 'frame', frame: wire, ms: performance.now() - t0 }, transfer);
      // quiet time counts from the end of a seek: one that took longer than QUIET_MS must not let an upkeep step in
      // before the next seek of the same drag
      lastSeekAt = performance.now();
    }
  } catch (e) {
    post({ kind: 'error', message: message(e) });
  } finally {
    seeking = false;
  }
  void upkeep();
}

/** While no seek waits: add snapshots in the widest gaps (LogSession.densify), one at a time, up to the memory budget. */
async function upkeep(): Promise<void> {
  if (upkeepRunning) return;
  upkeepRunning = true;
  try {
    while (session && pendingSeek === null && !seeking) {
      // yield to the message queue first, so a seek that just arrived goes before the next upkeep step; and wait until
      // the user has stopped scrubbing
      do await new Promise((r) => setTimeout(r, Math.max(0, QUIET_MS - (performance.now() - lastSeekAt))));
      while (performance.now() - lastSeekAt < QUIET_MS && pendingSeek === null);
      if (!session || pendingSeek !== null || seeking) break;
      // a densify step gives up between two chunks of its replay as soon as a seek waits
      if (!(await session.densify(() => pendingSeek !== null))) {
        post({ kind: 'idle', statesKept: session.snapshotSeqs.length });
        break;
      }
    }
  } catch (e) {
    post({ kind: 'error', message: message(e) });
  } finally {
    upkeepRunning = false;
  }
}

ctx.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.kind === 'seek') {
    lastSeekAt = performance.now();
    pendingSeek = m.seq;
    void drainSeeks();
    return;
  }
  const api = loadViewerApi();
  if ('missing' in api) {
    post({ kind: 'error', message: `this build of the site lacks ${api.missing.join(', ')}` });
    return;
  }
  try {
    const t0 = performance.now();
    session = new LogSession(api, m.file, m.name, { onProgress: (events, bytes) => post({ kind: 'progress', events, bytes }) });
    const s = session;
    const r = await s.load();
    const machine = r.header.machine as { arch?: string };
    post({ kind: 'header', name: m.name, header: { kernel: r.header.kernel, arch: String(machine.arch ?? '?'), memhpVersion: r.header.memhpVersion, seed: r.header.seed } });
    post({ kind: 'loaded', lastSeq: r.lastSeq, samples: r.samples, snapshots: r.snapshots, statesKept: s.snapshotSeqs.length, ms: performance.now() - t0, waitMs: r.waitMs, packMs: r.packMs });
    pendingSeek = r.lastSeq;
    await drainSeeks();
  } catch (e) {
    session = null;
    post({ kind: 'error', message: message(e) });
  }
};
