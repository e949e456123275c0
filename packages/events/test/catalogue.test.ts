import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createLogHeader, defineEvent, EventCatalogue, LogHeaderSchema, parseHeaderLine, pointerToField, schemaFingerprint, serializeHeader } from '@memhp/events';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { note, sectionAddV1, sectionAddV2, testCatalogue, vmemmapPopulate } from './helpers.js';

const v = (version: number, upcast?: (o: unknown) => { n: number }) =>
  defineEvent({
    type: 'counter.set',
    version,
    description: `counter v${version}`,
    schema: Type.Object({ n: Type.Integer() }),
    ...(upcast ? { upcast } : {}),
  });

describe('EventCatalogue', () => {
  it('registers types per version and reports the latest', () => {
    const c = testCatalogue();
    expect(c.has('section.add')).toBe(true);
    expect(c.has('section.add', 1)).toBe(true);
    expect(c.has('section.add', 3)).toBe(false);
    expect(c.has('section.remove')).toBe(false);
    expect(c.latest('section.add')).toBe(sectionAddV2);
    expect(c.versions('section.add')).toEqual([1, 2]);
    expect(c.list().map((d) => `${d.type}@${d.version}`)).toEqual(['note@1', 'section.add@1', 'section.add@2', 'vmemmap.populate@1']);
  });

  it('rejects a duplicate type+version', () => {
    const c = new EventCatalogue([note]);
    expect(() => c.register(note)).toThrow('event note@1 is already registered');
  });

  it('rejects a v2 without an upcast from a registered v1, in either registration order', () => {
    expect(() => new EventCatalogue([v(1), v(2)])).toThrow('event counter.set@2 needs an upcast from v1');
    expect(() => new EventCatalogue([v(2), v(1)])).toThrow('event counter.set@2 is registered without an upcast from v1');
  });

  it('rejects bad type names and versions', () => {
    expect(() => new EventCatalogue().register({ ...note, type: 'Bad Name' })).toThrow(/must match/);
    expect(() => new EventCatalogue().register({ ...note, version: 0 })).toThrow(/positive integer/);
  });

  it('lets a third party register its own types beside core', () => {
    const c = testCatalogue();
    c.register(defineEvent({ type: 'riscv64.pte_alloc', version: 1, description: 'x', schema: Type.Object({ va: Type.String() }) }));
    expect(c.check('riscv64.pte_alloc', 1, { va: '0x1000' })).toBeNull();
  });

  it('locates the first payload error as a JSON pointer into the envelope', () => {
    const c = testCatalogue();
    expect(c.check('section.add', 2, { sectionNr: 1, startPfn: 'x', nrPages: 1, nid: 0 })).toEqual({
      path: '/payload/startPfn',
      message: 'expected integer',
    });
    expect(c.check('vmemmap.populate', 1, { start: '0x1', end: '0x2', granularity: 'pud', source: 'buddy', zone: 'Normal' })?.path).toBe(
      '/payload/granularity',
    );
    expect(c.check('nope', 1, {})?.path).toBe('/type');
    expect(c.check('note', 9, {})?.path).toBe('/v');
    expect(c.check('note', 1, { text: 'ok' })).toBeNull();
  });

  it('chains upcasters v1→v2→v3', () => {
    const c = new EventCatalogue([
      v(1),
      v(2, (o) => ({ n: (o as { n: number }).n * 10 })),
      v(3, (o) => ({ n: (o as { n: number }).n + 1 })),
    ]);
    const up = c.upcast({ seq: 7, time: 1, op: 2, cause: 6, type: 'counter.set', v: 1, payload: { n: 4 } });
    expect(up).toEqual({ seq: 7, time: 1, op: 2, cause: 6, type: 'counter.set', v: 3, payload: { n: 41 } });
  });

  it('returns the same envelope when it is already the latest version', () => {
    const c = testCatalogue();
    const e = { seq: 1, time: 0, op: 0, cause: null, type: 'note', v: 1, payload: { text: 'a' } };
    expect(c.upcast(e)).toBe(e);
  });

  it('exports every type as plain JSON Schema', () => {
    const schemas = new EventCatalogue([sectionAddV1, vmemmapPopulate]).jsonSchemas();
    expect(schemas.map((s) => s.type)).toEqual(['section.add', 'vmemmap.populate']);
    const s = schemas[0]!;
    expect(s.description).toBe(sectionAddV1.description);
    expect(s.schema).toMatchObject({ type: 'object', required: ['sectionNr', 'startPfn', 'nrPages'] });
    expect(Object.getOwnPropertySymbols(s.schema)).toEqual([]);
    expect(JSON.parse(JSON.stringify(s.schema))).toEqual(s.schema);
  });

  it('fills a log header from a catalogue: format fields and every type@version', () => {
    const h = createLogHeader({
      memhpVersion: '0.1.0',
      kernel: '6.1',
      machine: { arch: 'x86_64' },
      params: {},
      seed: 7,
      catalogue: testCatalogue(),
      createdAt: new Date(Date.UTC(2026, 10, 21)),
    });
    expect(h.events).toEqual([
      { type: 'note', v: 1 },
      { type: 'section.add', v: 1 },
      { type: 'section.add', v: 2 },
      { type: 'vmemmap.populate', v: 1 },
    ]);
    expect(h.createdAt).toBe('2026-11-21T00:00:00.000Z');
    expect(parseHeaderLine(serializeHeader(h), { file: 'h.ndjson', line: 1 })).toEqual(h);
  });

  it('checks a payload with the precompiled check of its schema (by fingerprint), and still locates its failure', () => {
    const seen: unknown[] = [];
    const generated = (value: unknown): boolean => {
      seen.push(value);
      return typeof (value as { text?: unknown }).text === 'string';
    };
    const c = new EventCatalogue([note], { precompiled: { [schemaFingerprint(note.schema)]: generated } });
    expect(c.compiled('note', 1)!.Check({ text: 'a' })).toBe(true);
    expect(c.check('note', 1, { text: 7 })).toEqual({ path: '/payload/text', message: 'expected string' });
    expect(seen).toEqual([{ text: 'a' }, { text: 7 }]);
  });

  it('ignores a precompiled check keyed by another schema and checks with TypeBox', () => {
    const other = Type.Object({ text: Type.Number() });
    const c = new EventCatalogue([note], { precompiled: { [schemaFingerprint(other)]: () => true } });
    expect(schemaFingerprint(other)).not.toBe(schemaFingerprint(note.schema));
    expect(c.check('note', 1, { text: 7 })?.path).toBe('/payload/text');
    expect(c.check('note', 1, { text: 'ok' })).toBeNull();
  });

  it('checks the header with the catalogue\'s precompiled check and locates a bad header as without one', () => {
    const h = createLogHeader({ memhpVersion: '0.0.0', kernel: '6.1', machine: {}, params: {}, seed: 1, catalogue: testCatalogue(), createdAt: '2026-11-21T00:00:00.000Z' });
    let calls = 0;
    const code = TypeCompiler.Compile(LogHeaderSchema);
    const c = new EventCatalogue([], { precompiled: { [schemaFingerprint(LogHeaderSchema)]: (v) => (calls++, code.Check(v)) } });
    const where = { file: 'h.ndjson', line: 1 };
    expect(parseHeaderLine(serializeHeader(h), where, c)).toEqual(h);
    expect(() => parseHeaderLine(serializeHeader({ ...h, seed: 'x' as never }), where, c)).toThrow(/h\.ndjson:1: field seed: expected integer/);
    expect(calls).toBe(2);
  });

  it('turns JSON pointers into the dotted fields messages use', () => {
    expect(pointerToField('/payload/ranges/0/startPfn')).toBe('payload.ranges[0].startPfn');
    expect(pointerToField('/a~1b')).toBe('a/b');
  });
});
