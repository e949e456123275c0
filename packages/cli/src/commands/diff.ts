/**
 * `memhp diff a b`: how two runs differ — the first diverging event, and the differences in final state
 * (memory blocks, zones) and counters (meminfo, vmstat). Exit 0 either way: a difference is an answer.
 */
import type { Command } from 'commander';
import { examples } from '../program.js';
import { env } from './common.js';
import type { ReadonlyMachineState } from '@memhp/core';
import { readAll, replayLog, viewBlocks, viewMeminfo, viewVmstat, viewZoneinfo, type Envelope } from '../sim.js';
import { paint, printJson, table } from '../render/output.js';

export interface DiffResult {
  identical: boolean;
  events: { a: number; b: number };
  firstDivergence: null | { seq: number; a: Envelope | null; b: Envelope | null };
  header: Array<{ field: string; a: unknown; b: unknown }>;
  counters: Array<{ group: string; key: string; a: number | null; b: number | null; delta: number | null }>;
  blocks: Array<{ id: number; a: string | null; b: string | null }>;
}

/** Differences between two JSON values as leaf paths (`machine.config.kernel`); createdAt and the catalogue list are not differences of the runs. */
function leafDiff(a: unknown, b: unknown, path: string, out: DiffResult['header']): void {
  if (path === 'createdAt' || path === 'events') return;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) leafDiff(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ field: path, a, b });
}

/** Events compare by what happened, not by when: time is simulated and may differ. */
const sameEvent = (x: Envelope, y: Envelope): boolean => x.type === y.type && x.op === y.op && JSON.stringify(x.payload) === JSON.stringify(y.payload);

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('how two runs differ: first diverging event, final state and counters')
    .argument('<a>', 'first log')
    .argument('<b>', 'second log')
    .addHelpText('after', examples([
      ['memhp diff with-mom.ndjson without-mom.ndjson', 'what memmap_on_memory changed'],
      ['memhp diff a.ndjson b.ndjson --json', 'as JSON'],
    ]))
    .action(async (a: string, b: string, _o: unknown, cmd: Command) => {
      const { out } = await env(cmd);
      const [la, lb] = [await readAll(a), await readAll(b)];
      const result: DiffResult = { identical: true, events: { a: la.events.length, b: lb.events.length }, firstDivergence: null, header: [], counters: [], blocks: [] };
      leafDiff(la.header, lb.header, '', result.header);
      const n = Math.max(la.events.length, lb.events.length);
      for (let i = 0; i < n; i++) {
        const x = la.events[i];
        const y = lb.events[i];
        if (!x || !y || !sameEvent(x, y)) {
          result.firstDivergence = { seq: i + 1, a: x ?? null, b: y ?? null };
          break;
        }
      }
      const [sa, sb] = [(await replayLog(a)).state, (await replayLog(b)).state];
      const cmp = (group: string, ma: Record<string, number>, mb: Record<string, number>) => {
        for (const k of new Set([...Object.keys(ma), ...Object.keys(mb)])) {
          const [x, y] = [ma[k] ?? null, mb[k] ?? null];
          if (x !== y) result.counters.push({ group, key: k, a: x, b: y, delta: x !== null && y !== null ? y - x : null });
        }
      };
      cmp('meminfo', viewMeminfo(sa), viewMeminfo(sb));
      cmp('vmstat', viewVmstat(sa), viewVmstat(sb));
      const zt = (s: ReadonlyMachineState) => Object.fromEntries(viewZoneinfo(s).flatMap((z) => (['present', 'managed', 'spanned'] as const).map((f) => [`node${z.node}/${z.zone}.${f}`, z[f]])));
      cmp('zoneinfo', zt(sa), zt(sb));
      const bs = (s: ReadonlyMachineState) => new Map(viewBlocks(s).map((x) => [x.id, `${x.state} ${x.valid_zones}`]));
      const [ba, bb] = [bs(sa), bs(sb)];
      for (const id of [...new Set([...ba.keys(), ...bb.keys()])].sort((x, y) => x - y)) if (ba.get(id) !== bb.get(id)) result.blocks.push({ id, a: ba.get(id) ?? null, b: bb.get(id) ?? null });
      result.identical = !result.firstDivergence && result.header.length === 0 && result.counters.length === 0 && result.blocks.length === 0;
      if (out.json) return printJson(out, result);
      const p = paint(out);
      if (result.identical) return out.line(`identical: ${result.events.a} events, same final state`);
      out.line(`${p.bold('events')}: ${a} has ${result.events.a}, ${b} has ${result.events.b}`);
      for (const h of result.header) out.line(`header ${h.field}: ${JSON.stringify(h.a)} → ${JSON.stringify(h.b)}`);
      const d = result.firstDivergence;
      if (d) {
        out.line(`${p.bold('first divergence')} at event ${d.seq}:`);
        out.line(`  a: ${d.a ? `${d.a.type} ${JSON.stringify(d.a.payload)}` : '(end of log)'}`);
        out.line(`  b: ${d.b ? `${d.b.type} ${JSON.stringify(d.b.payload)}` : '(end of log)'}`);
      }
      if (result.counters.length) out.line(`${p.bold('counters')}:\n${table(out, ['group', 'counter', 'a', 'b', 'b − a'], result.counters.map((c) => [c.group, c.key, String(c.a ?? '-'), String(c.b ?? '-'), c.delta === null ? '-' : `${c.delta >= 0 ? '+' : ''}${c.delta}`]))}`);
      if (result.blocks.length) out.line(`${p.bold('memory blocks')}:\n${table(out, ['block', 'a', 'b'], result.blocks.map((x) => [`memory${x.id}`, x.a ?? '(absent)', x.b ?? '(absent)']))}`);
    });
}
