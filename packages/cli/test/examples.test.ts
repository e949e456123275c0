/**
 * Every scenario in examples/scenarios runs through the real `memhp run` and exits 0 (all its `expect` steps
 * hold), and replaying its log gives exactly the live final state (meminfo, vmstat, zoneinfo, memory blocks).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { memhp, memhpInProcess, REPO, tmp, type Ran } from './helpers.js';

const DIR = join(REPO, 'examples/scenarios');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const out = tmp();
const runs = new Map<string, Ran>();
const log = (f: string) => join(out, f.replace(/\.yaml$/, '.ndjson.gz'));

beforeAll(async () => {
  for (let i = 0; i < files.length; i += 2) {
    await Promise.all(files.slice(i, i + 2).map(async (f) => runs.set(f, await memhp(['run', join(DIR, f), '-o', log(f), '--json']))));
  }
}, 300_000);

interface RunJson {
  steps: Array<{ result: string; why?: string; failures?: Array<{ what: string; expected: string; actual: string }> }>;
  final?: unknown;
}

/** Steps core answers "does not model command … yet". */
const unmodelled = (j: RunJson): string[] => j.steps.filter((s) => s.result === 'EOPNOTSUPP' && /does not model command/.test(s.why ?? '')).map((s) => s.why!.split(' (')[0]!);

/**
 * Examples written ahead of core, by file, with the command kinds they wait for: only these may skip, and only for
 * exactly these commands. Any other unmodelled command is a lost or missing handler, and fails its example. Empty:
 * every example runs today.
 */
const WAITS_FOR_CORE: Readonly<Record<string, readonly string[]>> = {};

describe('the README', () => {
  it('starts with a command that runs one of these examples', async () => {
    const { readFileSync } = await import('node:fs');
    const first = /\bmemhp run (\S+\.yaml)/.exec(readFileSync(join(REPO, 'README.md'), 'utf8'))?.[1];
    expect(first).toBe('examples/scenarios/cloud-hot-add-12g.yaml');
    expect(files).toContain('cloud-hot-add-12g.yaml');
  });
});

describe.each(files)('examples/scenarios/%s', (f) => {
  it('runs with every expect step holding (exit 0)', (ctx) => {
    const r = runs.get(f)!;
    const j = JSON.parse(r.stdout || '{"steps":[]}') as RunJson;
    const missing = [...new Set(unmodelled(j))];
    const waits = (WAITS_FOR_CORE[f] ?? []).map((kind) => `memhp does not model command "${kind}" yet`);
    expect(missing.filter((m) => !waits.includes(m)), 'a command of this example has no handler in core').toEqual([]);
    if (waits.length > 0) {
      // listed: skip, reported, while core lacks the command; fail once it has it, so the list cannot go stale
      expect(missing, `${f} is listed in WAITS_FOR_CORE but every command of it is modelled now`).not.toEqual([]);
      ctx.skip(`waits for core: ${missing.join('; ')}`);
    }
    const failures = j.steps.flatMap((s) => s.failures ?? []);
    expect(failures, r.stderr).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('replays to the live final state', async (ctx) => {
    const r = runs.get(f)!;
    if (r.code !== 0) ctx.skip('the live run did not complete');
    const live = (JSON.parse(r.stdout) as RunJson).final;
    expect(live).toBeDefined();
    const rep = await memhpInProcess(['replay', log(f), '--report', 'final', '--json']);
    expect(rep.code, rep.stderr).toBe(0);
    expect((JSON.parse(rep.stdout) as { final: unknown }).final).toEqual(live);
  });
});
