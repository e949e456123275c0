/**
 * `memhp replay <log>`: fold a log into state with core's evolve and report it. `--at N` stops after event N.
 * The sections and blocks tables follow crash's `kmem -n` layout so they can be set beside a real kernel's.
 */
import type { Command } from 'commander';
import { examples } from '../program.js';
import { env, optInt } from './common.js';
import { UserError } from '../errors.js';
import { replayLog, viewBlocks, viewMeminfo, viewSections, viewVmstat, viewZoneinfo, type Envelope } from '../sim.js';
import { addEvent, emptySummary } from '../render/summary.js';
import { renderSummary, summaryJson } from '../render/summary-text.js';
import { paint, printJson, table, type Out } from '../render/output.js';

const REPORTS = ['summary', 'sections', 'blocks', 'meminfo', 'vmstat', 'zoneinfo', 'timeline'] as const;
type Report = (typeof REPORTS)[number];

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('rebuild state from a log and report it')
    .argument('<log>', 'event log (.ndjson or .ndjson.gz)')
    .option('--report <report>', `one of ${REPORTS.join(', ')}`, 'summary')
    .option('--at <n>', 'the state after event N (seq)')
    .option('--strict', 'fail on the first log problem instead of warning (unknown types, torn last line)')
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
      const timeline: Envelope[] = [];
      const { header, state, lastSeq } = await replayLog(log, {
        ...(at !== undefined ? { until: at } : {}),
        strict: Boolean(o.strict),
        onEvent: (e) => {
          addEvent(summary, e);
          if (report === 'timeline') timeline.push(e);
        },
      });
      if (at !== undefined && lastSeq < at) throw new UserError(`the log has only ${lastSeq} events`, { field: '--at' });
      renderReport(out, report, { header, state, lastSeq, summary, timeline });
    });
}

interface Replayed {
  header: Record<string, unknown>;
  state: unknown;
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
      for (const [k, v] of Object.entries(m)) out.line(`${`${k}:`.padEnd(16)}${String(v).padStart(8)}${/^HugePages_/.test(k) ? '' : ' kB'}`);
      return;
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
      return out.line(table(out, ['node', 'zone', 'present', 'managed', 'spanned', 'start_pfn'], z.map((x) => [x.node, x.zone, x.present, x.managed, x.spanned, String(x.start_pfn ?? x.startPfn ?? '')])));
    }
    case 'blocks': {
      const b = viewBlocks(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, blocks: b });
      title();
      // crash `kmem -n` memory block list: NAME, PHYSICAL RANGE, NODE, STATE, ZONE, START_SECTION_NO; plus sysfs attributes.
      return out.line(
        table(
          out,
          ['NAME', 'PHYSICAL RANGE', 'NODE', 'STATE', 'ZONE', 'START_SECTION_NO', 'phys_index', 'valid_zones', 'removable'],
          b.map((x) => [
            `memory${x.id}`,
            x.start !== undefined && x.end !== undefined ? `${String(x.start).replace(/^0x/, '')} - ${String(x.end).replace(/^0x/, '')}` : '',
            String(x.node ?? ''),
            String(x.state).toUpperCase(),
            String(x.zone ?? ''),
            String(x.startSection ?? x.start_section_no ?? ''),
            x.phys_index,
            x.valid_zones,
            x.removable,
          ]),
        ),
      );
    }
    case 'sections': {
      const s = viewSections(r.state);
      if (out.json) return printJson(out, { lastSeq: r.lastSeq, sections: s });
      title();
      // crash `kmem -n`: NR, SECTION, CODED_MEM_MAP, MEM_MAP, STATE (P present, M has mem_map, O online, E early, D ZONE_DEVICE), PFN.
      return out.line(
        table(
          out,
          ['NR', 'SECTION', 'CODED_MEM_MAP', 'MEM_MAP', 'STATE', 'PFN', 'SUBSECTIONS'],
          s.map((x) => [String(x.nr ?? x.section ?? ''), String(x.sectionAddr ?? x.SECTION ?? ''), String(x.codedMemMap ?? x.coded_mem_map ?? ''), String(x.memMap ?? x.mem_map ?? ''), String(x.state ?? x.flags ?? ''), String(x.pfn ?? x.startPfn ?? ''), String(x.subsections ?? x.subsectionMap ?? '')]),
        ),
      );
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
