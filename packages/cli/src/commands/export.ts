/**
 * `memhp export <log> --format chrome-trace|csv -o FILE`. The Chrome trace event format (the JSON object form
 * with `traceEvents`) opens in Perfetto and chrome://tracing: one track per operation (a command from
 * command.begin to command.end) and one track per memory block (its state over time), using event times.
 */
import type { Command } from 'commander';
import { examples } from '../program.js';
import { env } from './common.js';
import { UserError } from '../errors.js';
import { refuseOutputIsInput, writeFileSafely } from '../output-file.js';
import type { LogHeader } from '@memhp/events';
import { readAll, type Envelope } from '../sim.js';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 'M' | 'C';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

const PID_OPS = 1;
const PID_BLOCKS = 2;
const us = (ns: number): number => ns / 1000;

/** Build the trace from a log's events (pure, so tests can check its structure). */
export function chromeTrace(events: readonly Envelope[], header: LogHeader): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
  const out: TraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid: PID_OPS, tid: 0, args: { name: 'operations' } },
    { name: 'process_name', ph: 'M', ts: 0, pid: PID_BLOCKS, tid: 0, args: { name: 'memory blocks' } },
    { name: 'thread_name', ph: 'M', ts: 0, pid: PID_OPS, tid: 1, args: { name: 'commands' } },
  ];
  const lastTime = events.length ? events[events.length - 1]!.time : 0;
  const open = new Map<number, Envelope>();
  const blockSince = new Map<number, { state: string; zone: unknown; since: number }>();
  const named = new Set<number>();
  const closeBlock = (id: number, at: number) => {
    const b = blockSince.get(id);
    if (!b) return;
    out.push({ name: b.state, ph: 'X', ts: us(b.since), dur: Math.max(0, us(at - b.since)), pid: PID_BLOCKS, tid: id, cat: 'memory_block', args: { zone: b.zone } });
    blockSince.delete(id);
  };
  for (const e of events) {
    const p = (e.payload ?? {}) as Record<string, unknown>;
    if (e.type === 'command.begin') open.set(e.op, e);
    else if (e.type === 'command.end') {
      const b = open.get(e.op);
      open.delete(e.op);
      const start = b?.time ?? e.time;
      out.push({ name: String(p.kind ?? 'command'), ph: 'X', ts: us(start), dur: us(e.time - start), pid: PID_OPS, tid: 1, cat: 'command', args: { op: e.op, result: p.result, why: p.why, command: b ? (b.payload as Record<string, unknown>).command : undefined } });
    } else if (e.type.startsWith('memory_block.')) {
      const id = Number(p.id);
      if (!named.has(id)) {
        named.add(id);
        out.push({ name: 'thread_name', ph: 'M', ts: 0, pid: PID_BLOCKS, tid: id, args: { name: `memory${id}` } });
        out.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid: PID_BLOCKS, tid: id, args: { sort_index: id } });
      }
      if (e.type === 'memory_block.create') blockSince.set(id, { state: String(p.state), zone: p.zone, since: e.time });
      else if (e.type === 'memory_block.state') {
        closeBlock(id, e.time);
        blockSince.set(id, { state: String(p.to), zone: p.zone, since: e.time });
      } else if (e.type === 'memory_block.remove') closeBlock(id, e.time);
    } else if (e.type === 'command.end' || e.type === 'kernel.warn' || e.type === 'fault.inject' || e.type === 'vmemmap.alloc_fail') {
      out.push({ name: e.type, ph: 'i', s: 't', ts: us(e.time), pid: PID_OPS, tid: 1, cat: 'event', args: { seq: e.seq, ...p } });
    }
  }
  for (const id of [...blockSince.keys()]) closeBlock(id, lastTime);
  return { traceEvents: out, displayTimeUnit: 'ns', otherData: { memhp: true, kernel: header.kernel, machine: header.machine } };
}

/** One row per event: seq,time,op,cause,type,v,payload (RFC 4180 quoting). */
export function csv(events: readonly Envelope[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['seq,time,op,cause,type,v,payload'];
  for (const e of events) rows.push([e.seq, e.time, e.op, e.cause ?? '', e.type, e.v, q(JSON.stringify(e.payload))].join(','));
  return `${rows.join('\n')}\n`;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a log as a Chrome/Perfetto trace or CSV')
    .argument('<log>', 'event log')
    .requiredOption('--format <format>', 'chrome-trace or csv')
    .requiredOption('-o, --output <file>', 'file to write')
    .addHelpText('after', examples([
      ['memhp export run.ndjson --format chrome-trace -o run.trace.json', 'open run.trace.json in https://ui.perfetto.dev'],
      ['memhp export run.ndjson --format csv -o run.csv', 'one row per event'],
    ]))
    .action(async (log: string, o: { format: string; output: string }, cmd: Command) => {
      const { out } = await env(cmd);
      if (o.format !== 'chrome-trace' && o.format !== 'csv') throw new UserError(`unknown format "${o.format}"; chrome-trace or csv`, { field: '--format' });
      // Refused before reading, so `export log -o log` never touches its input.
      refuseOutputIsInput(o.output, [log]);
      const { header, events } = await readAll(log);
      const text = o.format === 'csv' ? csv(events) : JSON.stringify(chromeTrace(events, header));
      writeFileSafely(o.output, text, [log]);
      if (out.json) out.line(JSON.stringify({ output: o.output, format: o.format, events: events.length, bytes: Buffer.byteLength(text) }));
      else out.line(`wrote ${o.output} (${o.format}, ${events.length} events)`);
    });
}
