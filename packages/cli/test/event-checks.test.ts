/**
 * The checks generated ahead of time (src/generated/event-checks.ts) that `memhp` reads logs with: current with
 * the schemas, the same answers as TypeBox's own check, and — in the built binary, where TypeBox's compiler loads
 * only for a failure — the same located messages and exit code for a bad log as the CLI from source.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Check } from '@sinclair/typebox/value';
import { createCoreCatalogue } from '@memhp/core';
import { LogHeaderSchema, schemaFingerprint } from '@memhp/events';
import { EVENT_CHECKS } from '../src/generated/event-checks.js';
import { eventChecksModuleText } from '../scripts/event-checks.js';
import { memhp, REPO, tmp } from './helpers.js';

const GENERATED = join(REPO, 'packages/cli/src/generated/event-checks.ts');
const EXAMPLE = join(REPO, 'examples/scenarios/cloud-hot-add-12g.yaml');

/** The payload with one field given a value of the wrong kind, and with it missing. */
function mutations(payload: Record<string, unknown>): unknown[] {
  const out: unknown[] = [null, 'x', []];
  for (const k of Object.keys(payload)) {
    const { [k]: _gone, ...without } = payload;
    out.push(without, { ...payload, [k]: typeof payload[k] === 'string' ? 7 : 'x' }, { ...payload, [k]: null });
  }
  return out;
}

describe('generated event checks', () => {
  it('are current with the schemas (pnpm --filter @memhp/cli gen:checks rewrites them)', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(eventChecksModuleText());
  });

  it('hold a check for the header and for every type and version of core\'s catalogue', () => {
    for (const d of createCoreCatalogue().list()) expect(EVENT_CHECKS[schemaFingerprint(d.schema)], `${d.type}@${d.version}`).toBeTypeOf('function');
    expect(EVENT_CHECKS[schemaFingerprint(LogHeaderSchema)]).toBeTypeOf('function');
  });

  it('answer as TypeBox does for every payload of a recorded run and for each with one field wrong or missing', async () => {
    const log = join(tmp(), 'run.ndjson');
    const r = await memhp(['run', EXAMPLE, '-o', log, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const cat = createCoreCatalogue();
    const [headerLine, ...lines] = readFileSync(log, 'utf8').trimEnd().split('\n');
    const header = JSON.parse(headerLine!) as Record<string, unknown>;
    const checkHeader = EVENT_CHECKS[schemaFingerprint(LogHeaderSchema)]!;
    for (const h of [header, ...mutations(header)]) expect(checkHeader(h)).toBe(Check(LogHeaderSchema, h));
    let compared = 0;
    for (const line of lines) {
      const e = JSON.parse(line) as { type: string; v: number; payload: Record<string, unknown> };
      const schema = cat.get(e.type, e.v)!.schema;
      const generated = EVENT_CHECKS[schemaFingerprint(schema)]!;
      expect(generated(e.payload), line).toBe(true);
      for (const p of mutations(e.payload)) {
        expect(generated(p), `${e.type}: ${JSON.stringify(p)}`).toBe(Check(schema, p));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(10_000);
  });
});

const DIST = join(REPO, 'packages/cli/dist/bin.js');

describe.runIf(existsSync(DIST))('the built binary reading a bad log (TypeBox loaded only for the message)', () => {
  it('names the file, line and field, and exits 2, as the CLI from source does', async () => {
    const dir = tmp();
    const good = join(dir, 'run.ndjson');
    const made = spawnSync(process.execPath, [DIST, 'run', EXAMPLE, '-o', good, '--json'], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const lines = readFileSync(good, 'utf8').split('\n');
    const badPayload = join(dir, 'bad-payload.ndjson');
    const e = JSON.parse(lines[4]!) as { type: string; payload: Record<string, unknown> };
    expect(e.type).toBe('resource.request');
    writeFileSync(badPayload, [...lines.slice(0, 4), JSON.stringify({ ...e, payload: { ...e.payload, id: 'x' } }), ...lines.slice(5)].join('\n'));
    const badHeader = join(dir, 'bad-header.ndjson');
    writeFileSync(badHeader, [JSON.stringify({ ...(JSON.parse(lines[0]!) as object), seed: 's' }), ...lines.slice(1)].join('\n'));
    const cases: Array<[string, RegExp]> = [
      [badPayload, /bad-payload\.ndjson:5: field payload\.id: expected integer/],
      [badHeader, /bad-header\.ndjson:1: field seed: expected integer/],
    ];
    for (const [file, message] of cases) {
      const built = spawnSync(process.execPath, [DIST, 'replay', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      const source = await memhp(['replay', file]);
      expect(built.status).toBe(2);
      expect(built.stderr).toMatch(message);
      expect(built.stderr).toBe(source.stderr);
      expect(source.code).toBe(2);
    }
    const ok = spawnSync(process.execPath, [DIST, 'replay', good, '--json'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
  });
});
