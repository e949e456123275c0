// Preloaded (NODE_OPTIONS=--require) into every process of a local sweep by pool-cpu.ts: at exit, appends one JSON
// line to $MEMHP_CPU_REPORT with the process's role, its user+system CPU (main thread and helper threads apart, from
// /proc), and when it started, sent its first `ready`, got its first job and sent its last result (IPC messages
// seen through process.send and 'message'), and the bytes its JS heap allocated from its first job to its exit
// (`allocated`; V8's GC profiler: the heap's growth between collections, plus what each collection freed — so a
// worker's start-up is left out). Measurement only: it changes nothing a process does (the GC profiler records
// the heap's size at each collection).
'use strict';
const { appendFileSync, readdirSync, readFileSync } = require('node:fs');
const v8 = require('node:v8');

const out = process.env.MEMHP_CPU_REPORT;
const now = () => performance.timeOrigin + performance.now();
const role = process.argv.includes('--stdio') ? 'worker' : process.argv.includes('sweep') ? 'sweep' : 'other';
const at = {};
let points = 0;
if (out && process.send) {
  const send = process.send.bind(process);
  process.send = (m, ...rest) => {
    if (m && m.type === 'ready') at.ready ??= now();
    if (m && m.type === 'result') {
      points++;
      at.lastResult = now();
    }
    return send(m, ...rest);
  };
  process.on('message', (m) => {
    if (m && m.type === 'job' && at.firstJob === undefined) {
      at.firstJob = now();
      gc = new v8.GCProfiler();
      usedAtStart = v8.getHeapStatistics().used_heap_size;
      gc.start();
    }
  });
}
let gc = null;
let usedAtStart = 0;
/** Bytes allocated since the profiler started: what the heap grew by between collections, summed, to now. */
const allocated = () => {
  if (gc === null) return 0;
  const { statistics } = gc.stop();
  let bytes = 0;
  let after = usedAtStart;
  for (const s of statistics) {
    bytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - after);
    after = s.afterGC.heapStatistics.usedHeapSize;
  }
  return bytes + Math.max(0, v8.getHeapStatistics().used_heap_size - after);
};
/** utime + stime in clock ticks (100 a second on Linux). */
const ticks = (stat) => {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
if (out) {
  process.on('exit', () => {
    let main = 0;
    let helpers = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const t = ticks(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')) / 100;
      if (Number(tid) === process.pid) main += t;
      else helpers += t;
    }
    appendFileSync(out, `${JSON.stringify({ role, pid: process.pid, start: performance.timeOrigin, end: now(), main, helpers, points, allocated: allocated(), at })}\n`);
  });
}
