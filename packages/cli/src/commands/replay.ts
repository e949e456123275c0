/**
 * `memhp replay <log>`: fold a log into state with core's evolve and report it. `--at N` stops after event N.
 * The sections and blocks tables follow crash's `kmem -n` layout so they can be set beside a real kernel's.
 */
import type { Command } from 'commander';
import type { MemoryBlockRow, ReadonlyMachineState } from '@memhp/core';
import { LOG_END_TYPE, type LogHeader } from '@memhp/events';
import { examples } from '../program.js';
import { env, optInt } from './common.js';
import { UserError } from '../errors.js';
import { formatMeminfo, replayLog, viewBlocks, viewKmemBlocks, viewKmemSections, viewMeminfo, viewVmstat, viewZoneinfo, type Envelope } from '../sim.js';
import { addEvent, emptySummary } from '../render/summary.js';
import { finalViews } from '../render/final-views.js';
import { renderSummary, summaryJson } from '../render/summary-text.js';
import { paint, printJson, table, type Out } from '../render/output.js';

const REPORTS = ['summary', 'sections', 'blocks', 'meminfo', 'vmstat', 'zoneinfo', 'timeline', 'final'] as const;
type Report = (typeof REPORTS)[number];

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('rebuild state from a log and report it')
    .argument('<log>', 'event log (.ndjson or .ndjson.gz)')
    .option('--report <report>', `one of ${REPORTS.join(', ')}`, 'summary')
    .option('--at <n>', 'the state after event N (seq)')
    .option('--strict', 'fail on the first log problem instead of warning (unknown types, torn last line), and unless the log ends with its "complete" end marker (an interrupted or cut run)')
    .addHelpText('after', examples([
      ['memhp replay run.ndjson', 'the run summary, rebuilt from the log'],
      ['memhp replay run.ndjson --report sections', 'the section table, like crash\'s kmem -n'],
      ['memhp replay run.ndjson --report meminfo --at 120 --json', '/proc/meminfo after event 120, as JSON'],
    ]))
    .action(async (log: string, o: { report: string; at?: string; strict?: boolean }, cmd: Command) => {
      const { out } = await env(cmd);
      if (!(REPORTS as readonly string[]).includes(o.report)) throw new UserError(`unknown report "${o.report}"; one of ${REPORTS.join(', ')}`, { field: '--report' });
      const report = o.report as Report;
      const at = optInt(o.at, '--at');
      const summary = emptySummary();
      const timeline = report === 'timeline' ? new TimelineStream(out) : null;
      let lastEvent: Envelope | null = null;
      const { header, state, lastSeq } = await replayLog(log, {
        ...(at !== undefined ? { until: at } : {}),
        strict: Boolean(o.strict),
        onEvent: (e) => {
          addEvent(summary, e);
          lastEvent = e;
          timeline?.push(e);
        },
      });
      if (at !== undefined && lastSeq < at) throw new UserError(`the log has only ${lastSeq} events`, { field: '--at' });
      if (at === undefined) checkEnd(log, lastEvent, lastSeq, Boolean(o.strict), out);
      if (timeline) return timeline.end();
      renderReport(out, report, { header, state, lastSeq, summary, timeline: [] });
    });
}

/**
 * A log closed on purpose ends with log.end (complete or interrupted); one that does not was cut. With --strict both
 * an interrupted and a cut log are errors (the state is not the run's end state); without it an interrupted log is
 * named in a warning.
 */
function checkEnd(log: string, last: Envelope | null, lastSeq: number, strict: boolean, out: Out): void {
  const p = (last?.type === LOG_END_TYPE ? last.payload : null) as { reason?: string; signal?: string } | null;
  if (p?.reason === 'complete') return;
  const msg = p
    ? `the run was interrupted${p.signal ? ` by ${p.signal}` : ''}: the log holds only its first ${lastSeq} events`
    : `the log ends after event ${lastSeq} without its end marker: it was cut (a killed writer, a full disk) or written by an older memhp`;
  if (strict) throw new UserError(`${msg} (--strict)`, { file: log });
  if (p) out.err(`memhp: warning: ${log}: ${msg}`);
}

/**
 * The timeline report, written as the log is read: fixed-width columns (no table to measure first) and output in
 * chunks, so memory and time stay proportional to one chunk, whatever the log's length.
 */
class TimelineStream {
  #buf: string[] = [];
  #bytes = 0;
  #first = true;
  constructor(private readonly out: Out) {
    if (out.json) this.#write('{\n  "events": [\n');
    else this.#write(`${'seq'.padStart(9)} ${'time'.padStart(14)} ${'op'.padStart(7)}  ${'type'.padEnd(28)} payload\n`);
  }
  push(e: Envelope): void {
    if (this.out.json) {
      this.#write(`${this.#first ? '' : ',\n'}    ${JSON.stringify(e)}`);
      this.#first = false;
    } else {
      this.#write(`${String(e.seq).padStart(9)} ${String(e.time).padStart(14)} ${String(e.op).padStart(7)}  ${e.type.padEnd(28)} ${JSON.stringify(e.payload).slice(0, 100)}\n`);
    }
  }
  end(): void {
    if (this.out.json) this.#write(`${this.#first ? '' : '\n'}  ]\n}\n`);
    this.#flush();
  }
  #write(s: string): void {
    this.#buf.push(s);
    this.#bytes += s.length;
    if (this.#bytes >= 1 << 16) this.#flush();
  }
  #flush(): void {
    if (this.#buf.length === 0) return;
    process.stdout.write(this.#buf.join(''));
    this.#buf = [];
    this.#bytes = 0;
  }
}

interface Replayed {
  header: LogHeader;
  state: ReadonlyMachineState;
  lastSeq: number;
  summary: ReturnType<typeof emptySummary>;
  timeline: Envelope[];
}

export function renderReport(out: Out, report: Report, r: Replayed): void {
  const p = paint(out);
  const title = () => out.line(p.dim(`after event ${r.lastSeq} · kernel ${String(r.header.kernel)}`));
  switch (report) {
    case 'summary':
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, summary: summaryJson(r.summary) });
      title();
      return out.line(renderSummary(out, r.summary));
    case 'meminfo': {
      const m = viewMeminfo(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, meminfo: m });
      // /proc/meminfo's own layout: "MemTotal:       24684084 kB".
      return out.line(formatMeminfo(m).replace(/\n$/, ''));
    }
    case 'vmstat': {
      const v = viewVmstat(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, vmstat: v });
      for (const [k, x] of Object.entries(v)) out.line(`${k} ${x}`);
      return;
    }
    case 'zoneinfo': {
      const z = viewZoneinfo(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, zones: z });
      title();
      return out.line(table(out, ['node', 'zone', 'present', 'managed', 'spanned', 'start_pfn'], z.map((x) => [x.node, x.zone, x.present, x.managed, x.spanned, x.start_pfn])));
    }
    case 'blocks': {
      // crash `kmem -n` memory-block table, with the sysfs attributes of each block beside it.
      const sysfs = new Map(viewBlocks(r.state).map((x) => [`memory${x.id}`, x]));
      const rows = viewKmemBlocks(r.state).map((k): Record<string, unknown> & ReturnType<typeof pickSysfs> => ({ ...k, ...pickSysfs(sysfs.get(String(k.NAME))) }));
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, blocks: rows });
      title();
      const head = ['MEM_BLOCK', 'NAME', 'PHYSICAL RANGE', 'NODE', 'STATE', 'START_SECTION_NO', 'valid_zones', 'phys_index', 'removable'];
      return out.line(table(out, head, rows.map((x) => [dash(x.MEM_BLOCK), String(x.NAME), String(x.PHYSICAL_RANGE), String(x.NODE), String(x.STATE), String(x.START_SECTION_NO), x.valid_zones, x.phys_index, x.removable])));
    }
    case 'sections': {
      const s = viewKmemSections(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, sections: s });
      title();
      // crash `kmem -n`: NR, SECTION, CODED_MEM_MAP, MEM_MAP, STATE (P present, M mem_map, O online, E early, D ZONE_DEVICE), PFN.
      return out.line(table(out, ['NR', 'SECTION', 'CODED_MEM_MAP', 'MEM_MAP', 'STATE', 'PFN', 'SUBSECTIONS'], s.map((x) => [String(x.NR), dash(x.SECTION), String(x.CODED_MEM_MAP), String(x.MEM_MAP), String(x.STATE), String(x.PFN), String(x.SUBSECTIONS ?? '')])));
    }
    case 'final': {
      // The same views `memhp run --json` prints as "final", for replay-equals-live checks.
      const f = finalViews(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, final: f });
      return out.line(JSON.stringify(f, null, 2));
    }
    case 'timeline': {
      if (out.json) return printJson(out, { events: r.timeline });
      return out.line(
        table(
          out,
          ['seq', 'time', 'op', 'type', 'payload'],
          r.timeline.map((e) => [e.seq, e.time, e.op, e.type, JSON.stringify(e.payload).slice(0, 100)]),
        ),
      );
    }
  }
}

/** crash prints kernel addresses memhp does not model (struct mem_section, struct memory_block) — shown as "-". */
const dash = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

function pickSysfs(b: MemoryBlockRow | undefined): { valid_zones: string; phys_index: string; removable: string } {
  return { valid_zones: String(b?.valid_zones ?? ''), phys_index: String(b?.phys_index ?? ''), removable: String(b?.removable ?? '') };
}
