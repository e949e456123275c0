/**
 * One measurement per process, so each gets its own peak RSS (process.resourceUsage().maxRSS) and a cold heap.
 * argv: <mode> <file> <events>; prints one JSON line: { mode, events, seconds, maxRssMiB, bytes? }.
 */
import { closeSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { replay, serializeEvent, serializeHeader, type EventEnvelope } from '../src/index.js';
import { openLogReader, openLogWriter } from '../src/node.js';
import { benchCatalogue, benchEvent, benchHeader, payloadPool } from './vocabulary.js';

const [mode, file, countArg] = process.argv.slice(2) as [string, string, string];
const count = Number(countArg);

/** Starts the clocks; each mode calls it after its untimed setup (payload pool, old file removal). */
let t0 = 0;
let cpu0 = process.cpuUsage();
function start(): void {
  cpu0 = process.cpuUsage();
  t0 = performance.now();
}

async function main(): Promise<void> {
  switch (mode) {
    case 'write':
    case 'write-sync':
    case 'write-null':
    case 'write-null-sync':
    case 'write-gz': {
      const pool = payloadPool(65536);
      if (!mode.startsWith('write-null')) rmSync(file, { force: true }); // truncating a big old file costs more than writing it
      start();
      // "-sync": the file writes on this thread, as before the writer thread existed.
      const w = openLogWriter(file, benchHeader(), { thread: !mode.endsWith('-sync') });
      for (let seq = 1; seq <= count; seq++) {
        if (!w.write(benchEvent(seq, pool))) await w.drained();
      }
      await w.close();
      return;
    }
    case 'write-naive': {
      // The generic approach TOOLCHAIN.md measured: stringify, join per batch, writeSync.
      const pool = payloadPool(65536);
      rmSync(file, { force: true });
      start();
      const fd = openSync(file, 'w');
      writeSync(fd, `${serializeHeader(benchHeader())}\n`);
      let parts: string[] = [];
      for (let seq = 1; seq <= count; seq++) {
        parts.push(serializeEvent(benchEvent(seq, pool)));
        if (parts.length === 20000) {
          writeSync(fd, parts.join('\n') + '\n');
          parts = [];
        }
      }
      if (parts.length > 0) writeSync(fd, parts.join('\n') + '\n');
      closeSync(fd);
      return;
    }
    case 'floor': {
      // (a) read in 4 MiB chunks, split by hand, JSON.parse every line: no validation at all.
      start();
      const fd = openSync(file, 'r');
      const buf = Buffer.allocUnsafe(4 << 20);
      let carry = '';
      let n = 0;
      let sink = 0;
      for (;;) {
        const got = readSync(fd, buf, 0, buf.length, null);
        if (got === 0) break;
        const text = carry + buf.toString('utf8', 0, got);
        const lines = text.split('\n');
        carry = lines.pop()!;
        for (const l of lines) {
          const o = JSON.parse(l) as { seq?: number };
          sink += o.seq ?? 0;
          n++;
        }
      }
      closeSync(fd);
      if (carry) n++;
      if (n !== count + 1 || sink < 0) throw new Error(`floor read ${n} lines, expected ${count + 1}`);
      return;
    }
    case 'replay':
    case 'replay-gz': {
      // (b)/(c) validated streaming replay into a trivial evolve.
      start();
      const r = await replay(openLogReader(file, { catalogue: benchCatalogue(), strict: true }), {
        initial: () => ({ n: 0, last: 0 }),
        evolve: (s: { n: number; last: number }, e: EventEnvelope) => {
          s.n++;
          s.last = e.seq;
          return s;
        },
      });
      if (r.lastSeq !== count || r.state.n !== count) throw new Error(`replayed ${r.state.n}, expected ${count}`);
      return;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

await main();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    mode,
    events: count,
    seconds: ms / 1000,
    // On a shared 2-core machine wall time measures the neighbours too; CPU time measures this process.
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    bytes: statSync(file).size,
  }),
);
