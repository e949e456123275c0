import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { loadScenario } from '../src/scenario/load.js';
import { scenarioSchema } from '../src/scenario/schema.js';
import { scenarioJsonSchemaText } from '../src/scenario/json-schema.js';
import { UserError } from '../src/errors.js';
import { REPO } from './helpers.js';

const EXAMPLES = join(REPO, 'examples/scenarios');
const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

const MIN = `memhp: 1
machine:
  arch: x86_64
  kernel: "6.1"
  nodes:
    - { id: 0, memory: [{ start: 0, size: 1G }] }
`;

function loadError(text: string): UserError {
  try {
    loadScenario('s.yaml', text);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario files', () => {
  it.each(examples)('example %s is valid against the schema and loads', (f) => {
    const text = readFileSync(join(EXAMPLES, f), 'utf8');
    expect(text.startsWith('# yaml-language-server: $schema=')).toBe(true);
    const s = loadScenario(f, text);
    expect(s.steps.length).toBeGreaterThan(0);
    // Every example checks something, and every expect step carries a cited number in a comment.
    expect(s.steps.some((x) => x.kind === 'expect')).toBe(true);
    expect(text).toMatch(/§\d|apps\/docs\/kernel\/[\w-]+\.md#[\w-]+/);
  });

  it('turns steps into core commands with exact bigint ranges', () => {
    const s = loadScenario(
      's.yaml',
      `${MIN}steps:
  - add_memory: { node: 0, start: 0x100000000, size: 128M, flags: [memmap_on_memory] }
  - online: { blocks: 32-33, type: online_movable }
  - sysctl: { vm.hugetlb_optimize_vmemmap: 1 }
`,
    );
    const [add, online, sysctl] = s.steps;
    expect(add).toMatchObject({ kind: 'command', commands: [{ kind: 'add_memory', node: 0, range: { startBytes: 4294967296n, sizeBytes: 134217728n }, flags: ['memmap_on_memory'] }] });
    // An online step's commands are made as the run reaches them (never an array of every block): iterate them.
    expect(online).toMatchObject({ count: 2, blocks: [{ first: 32, last: 33 }] });
    expect([...(online as { commands: Iterable<unknown> }).commands]).toMatchObject([{ kind: 'block_state', block: 32, state: 'online_movable' }, { kind: 'block_state', block: 33, state: 'online_movable' }]);
    expect(sysctl).toMatchObject({ commands: [{ kind: 'sysctl', name: 'vm.hugetlb_optimize_vmemmap', value: '1' }] });
    expect(s.machine).toMatchObject({ arch: 'x86_64', pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.1' });
  });

  it("names a memremap_pages type as the kernel's enum memory_type does, whichever accepted spelling the scenario uses (include/linux/memremap.h 6.1)", () => {
    const spellings = ['MEMORY_DEVICE_GENERIC', 'generic', 'devdax'];
    for (const type of spellings) {
      const s = loadScenario('s.yaml', `${MIN}steps:\n  - memremap_pages: { node: 0, start: 16G, size: 1G, type: ${type} }\n`);
      expect(s.steps[0], type).toMatchObject({ commands: [{ kind: 'memremap_pages', type: 'MEMORY_DEVICE_GENERIC' }] });
    }
    const fsdax = loadScenario('s.yaml', `${MIN}steps:\n  - memremap_pages: { node: 0, start: 16G, size: 1G, type: MEMORY_DEVICE_FS_DAX }\n`);
    expect(fsdax.steps[0]).toMatchObject({ commands: [{ type: 'MEMORY_DEVICE_FS_DAX' }] });
    const e = loadError(`${MIN}steps:\n  - memremap_pages: { node: 0, start: 16G, size: 1G, type: MEMORY_DEVICE_PUBLIC }\n`);
    expect(e.message).toMatch(/type/);
    expect(e.message).toMatch(/s\.yaml:\d+/);
  });

  it('reads expect deltas and absolutes with their units', () => {
    const s = loadScenario('s.yaml', `${MIN}steps:\n  - expect: { errno: EEXIST, meminfo: { MemTotal: "+129024 kB" }, vmstat: { nr_memmap_pages: 512 }, blocks: { "32-33": { state: online } } }\n`);
    const e = s.steps[0]!;
    expect(e.kind).toBe('expect');
    if (e.kind !== 'expect') return;
    expect(e.expect.errno).toBe('EEXIST');
    expect(e.expect.meminfo?.MemTotal).toMatchObject({ delta: true, value: 129024, unit: 'kB' });
    expect(e.expect.vmstat?.nr_memmap_pages).toMatchObject({ delta: false, value: 512 });
    expect(e.expect.blocks?.map((b) => b.ranges)).toEqual([[{ first: 32, last: 33 }]]);
  });

  it('names file, line, column of a YAML syntax error', () => {
    const e = loadError('memhp: 1\nmachine: {arch: x86_64\n');
    expect(e.message).toMatch(/^s\.yaml:\d+:\d+: YAML syntax/);
  });

  it('names the line and field path of an unknown field, with the known ones', () => {
    const e = loadError(MIN.replace('  kernel: "6.1"\n', '  kernel: "6.1"\n  structpage: 64\n'));
    expect(e.message).toMatch(/^s\.yaml:5:3: field machine\.structpage: unknown field "structpage"; known: arch, pageSize, structPageSize/);
  });

  it('names the step and field of a bad size', () => {
    const e = loadError(`${MIN}steps:\n  - plug_dimm: { id: d1, node: 0, size: 12Q }\n`);
    expect(e.message).toBe('s.yaml:8:41: field steps[0].plug_dimm.size: not a size: "12Q" (expected e.g. 4K, 128M, 2G, 134217728 or 0x8000000)');
  });

  it('gives the same located error once the schemas are checked compiled, after many valid loads (as of a sweep)', () => {
    const good = `${MIN}steps:\n  - plug_dimm: { id: d1, node: 0, size: 1G }\n`;
    for (let i = 0; i < 40; i++) loadScenario('s.yaml', good);
    expect(loadError(`${MIN}steps:\n  - plug_dimm: { id: d1, node: 0, size: 12Q }\n`).message).toBe('s.yaml:8:41: field steps[0].plug_dimm.size: not a size: "12Q" (expected e.g. 4K, 128M, 2G, 134217728 or 0x8000000)');
    expect(loadError(MIN.replace('  kernel: "6.1"\n', '  kernel: "6.1"\n  structpage: 64\n')).message).toMatch(/^s\.yaml:5:3: field machine\.structpage: unknown field "structpage"/);
  });

  it('rejects an unknown step kind, listing the known ones', () => {
    const e = loadError(`${MIN}steps:\n  - hotplug: { size: 1G }\n`);
    expect(e.message).toMatch(/^s\.yaml:8:5: field steps\[0\]\.hotplug: unknown step "hotplug"; known: plug_dimm, unplug_dimm, online/);
  });

  it('rejects an unsupported kernel naming the modelled series', () => {
    const e = loadError(MIN.replace('"6.1"', '"4.19"'));
    expect(e.message).toContain('s.yaml:4:11: field machine.kernel: unsupported kernel version "4.19": memhp models the series 5.10 to 6.18');
  });

  it('accepts every series from 5.10 to 6.18 and exact stable releases, recording the version as given', () => {
    // Debian 13 and RHEL 10 run 6.12, which no rule names: it loads with the rules in force for 6.12
    for (const k of ['5.10', '5.11', '5.19', '6.0', '6.12', '6.18', '6.1.16', '6.12.43']) expect(loadScenario('s.yaml', MIN.replace('"6.1"', `"${k}"`)).machine.kernel).toBe(k);
    expect(loadError(MIN.replace('"6.1"', '"6.19"')).message).toContain('unsupported kernel version "6.19"');
    // a Debian uname -r is not a stable release: refused with the reason
    expect(loadError(MIN.replace('"6.1"', '"6.1.0-27-amd64"')).message).toContain('a distribution release string does not say which stable release it is');
  });

  it('asks for a quoted kernel version, since YAML reads 6.10 as 6.1', () => {
    expect(loadError(MIN.replace('"6.1"', '6.10')).message).toMatch(/field machine\.kernel: write the kernel version as a quoted string/);
  });

  it('rejects a bad block list and an unknown errno with their fields', () => {
    expect(loadError(`${MIN}steps:\n  - online: { blocks: 39-32 }\n`).message).toMatch(/field steps\[0\]\.online\.blocks: not a block list: "39-32"/);
    expect(loadError(`${MIN}steps:\n  - expect: { errno: ENOPE }\n`).message).toMatch(/field steps\[0\]\.expect\.errno: unknown errno "ENOPE"/);
  });

  it('requires the format version', () => {
    expect(loadError(MIN.replace('memhp: 1\n', '')).message).toMatch(/missing "memhp: 1"/);
    expect(loadError(MIN.replace('memhp: 1', 'memhp: 2')).message).toMatch(/s\.yaml:1:8: field memhp: unsupported scenario format version 2/);
  });

  it('publishes the JSON Schema generated from the TypeBox schema (up to date)', () => {
    const published = readFileSync(join(REPO, 'packages/cli/schema/scenario.schema.json'), 'utf8');
    // Regenerate with `pnpm --filter @memhp/cli gen:schema` when this fails.
    expect(published).toBe(scenarioJsonSchemaText());
  });

  it('validates the raw YAML data of every example with the TypeBox schema itself', async () => {
    const { parse } = await import('yaml');
    for (const f of examples) expect(Value.Check(scenarioSchema, parse(readFileSync(join(EXAMPLES, f), 'utf8')))).toBe(true);
  });
});

describe('any input', () => {
  it('either loads or fails with a located UserError, never a crash (random steps and machine fields)', async () => {
    const fc = (await import('fast-check')).default;
    const { stringify } = await import('yaml');
    const { STEP_KINDS } = await import('../src/scenario/schema.js');
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('128M', '0x1000', '32-39', 'online_movable', 'EEXIST', '+512', '1.5G'));
    const step = fc.oneof(
      fc.record({ kind: fc.constantFrom(...STEP_KINDS), body: fc.dictionary(fc.constantFrom('id', 'node', 'start', 'size', 'blocks', 'type', 'count', 'errno', 'meminfo', 'flags', 'requested'), value, { maxKeys: 4 }) }).map((x) => ({ [x.kind]: x.body })),
      value,
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 5 }), fc.option(value), (steps, kernel) => {
        const doc = { memhp: 1, machine: { arch: 'x86_64', ...(kernel === null ? {} : { kernel }), nodes: [{ id: 0 }] }, steps };
        try {
          loadScenario('r.yaml', stringify(doc));
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
          expect((e as Error).message).toMatch(/^r\.yaml:\d+:\d+: /);
        }
      }),
      { numRuns: 300 },
    );
  });
});
