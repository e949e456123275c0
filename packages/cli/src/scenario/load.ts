/**
 * Read a scenario file: YAML → located syntax errors → TypeBox validation with the field path and line of
 * every problem → a plain, typed plan (the machine as core's MachineConfig, and each step as core Commands or
 * an expectation). No model logic: unit conversion and shape only.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAlias, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { Errors } from '@sinclair/typebox/errors';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type TSchema } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import { checkFaultConfig, DEFAULT_KERNEL, isErrnoName, type FaultConfig as CoreFaultConfig, parseKernelVersion, parsePgmapType, type Command, type ErrnoName, type KernelVersion, type MachineConfig, type MhpFlag, type OnlineType, type PgmapType, type ZoneName } from '@memhp/core';
import { UserError, type Location } from '../errors.js';
import { parseSize, SizeSyntaxError } from '../parse/size.js';
import { blockCount, blockIds, parseBlockRanges, type BlockRange } from '../parse/ranges.js';
import { fieldPath, pointerToPath, positionOf, type PathSeg } from './locate.js';
import { BlockList, FaultsSchema, MachineSchema, Size, STEP_KINDS, STEP_SCHEMAS, type StepKind, type StepOf } from './schema.js';

export interface FaultConfig {
  readonly seed: number;
  /** core's FaultConfig (faults/injector.ts), as written in the scenario. */
  readonly policies: Readonly<Record<string, unknown>>;
}

/** A counter expectation: an absolute value or a change since the previous `expect`. */
export interface CounterExpect {
  readonly delta: boolean;
  readonly value: number;
  /** `kB` for meminfo keys given with a unit; counters are compared in the unit the kernel prints. */
  readonly unit?: string;
  readonly text: string;
}

export interface BlockExpect {
  readonly state?: string;
  readonly valid_zones?: string;
  readonly phys_index?: string;
  readonly removable?: string;
  readonly exists?: boolean;
}

export interface ExpectSpec {
  readonly errno?: ErrnoName | 'ok';
  readonly meminfo?: Readonly<Record<string, CounterExpect>>;
  readonly vmstat?: Readonly<Record<string, CounterExpect>>;
  /** Block ids as ranges (never expanded), each with what is expected of every block in it. */
  readonly blocks?: ReadonlyArray<{ readonly ranges: readonly BlockRange[]; readonly text: string; readonly expect: BlockExpect; readonly where: Location }>;
  readonly zoneinfo?: Readonly<Record<string, Readonly<Record<string, CounterExpect>>>>;
}

interface StepBase {
  readonly index: number;
  readonly where: Location;
  /** The step as written, one line: `online {blocks: 32-39, type: online_movable}`. */
  readonly label: string;
}

export type PlannedStep =
  | (StepBase & {
      readonly kind: 'command';
      readonly step: StepKind;
      /** Iterable more than once; an online/offline step makes its per-block commands as they are needed. */
      readonly commands: Iterable<Command>;
      readonly count: number;
      /** The block ids of an online/offline step (run.ts checks them against the machine). */
      readonly blocks?: readonly BlockRange[];
      readonly hugepageSizeDefault?: boolean;
    })
  | (StepBase & { readonly kind: 'expect'; readonly expect: ExpectSpec });

export interface LoadedScenario {
  readonly file: string;
  readonly name?: string;
  readonly description?: string;
  /** The arch as written (resolve with the backend registry); its location for errors. */
  readonly arch: { readonly name: string; readonly where: Location };
  /** Where machine.cmdline and machine are, for errors core finds when it builds the machine; `fields` by core's field name. */
  readonly where: { readonly cmdline: Location; readonly machine: Location; readonly fields: Readonly<Record<string, Location>> };
  readonly machine: MachineConfig;
  readonly faults: FaultConfig;
  readonly steps: readonly PlannedStep[];
}

export interface LoadOptions {
  /** `--kernel` on the command line wins over machine.kernel. */
  readonly kernel?: KernelVersion;
  /** `--seed` wins over faults.seed. */
  readonly seed?: number;
}

class Ctx {
  constructor(
    readonly file: string,
    /** The parsed YAML, for lines and columns; none for a scenario given as data (fields only). */
    readonly doc?: Document,
    readonly lc?: LineCounter,
  ) {}
  where(path: readonly PathSeg[], preferKey = false): Location {
    const p = this.doc && this.lc ? positionOf(this.doc, this.lc, path, preferKey) : undefined;
    return { file: this.file, line: p?.line, column: p?.column, field: fieldPath(path) || undefined };
  }
  fail(path: readonly PathSeg[], msg: string, preferKey = false): never {
    throw new UserError(msg, this.where(path, preferKey));
  }
}

/** A scenario larger than this is refused before parsing (a 100 MB one took 36 s and 3.4 GB). */
export const MAX_SCENARIO_BYTES = 4 << 20;
/** YAML alias expansions allowed (the yaml package's count); a legitimate scenario uses far fewer. */
export const MAX_YAML_ALIAS_COUNT = 1000;

/** Read at most `limit` + 1 bytes, from a file, a FIFO or a device (`/dev/zero` ends at the limit, not never). */
export function readBounded(file: string, limit: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read: ${code ?? (e as Error).message}`, { file });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UserError('is a directory', { file });
    if (st.isFile() && st.size > limit) throw new UserError(`is ${st.size} bytes; a scenario may have at most ${limit} (${limit >> 20} MiB)`, { file });
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw new UserError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > limit) throw new UserError(`has more than ${limit} bytes (${limit >> 20} MiB), the most a scenario may have`, { file });
    }
    const bytes = Buffer.concat(chunks, total);
    if (bytes.includes(0)) throw new UserError('is not a text file (it holds NUL bytes)', { file });
    return bytes.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function loadScenarioFile(file: string, opts: LoadOptions = {}): LoadedScenario {
  return loadScenario(file, readBounded(file, MAX_SCENARIO_BYTES), opts);
}

export function loadScenario(file: string, text: string, opts: LoadOptions = {}): LoadedScenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const err = doc.errors[0];
  if (err) {
    const p = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
    throw new UserError(`YAML syntax: ${err.message.split('\n')[0]}`, { file, line: p.line, column: p.col });
  }
  const ctx = new Ctx(file, doc, lc);
  // An unknown tag (`!foo`) is a warning to the yaml package; memhp reads nothing it does not understand.
  const warn = doc.warnings[0];
  if (warn) {
    const p = warn.linePos?.[0] ?? lc.linePos(warn.pos[0]);
    throw new UserError(`YAML: ${warn.message.split('\n')[0]}`, { file, line: p.line, column: p.col });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    // "Excessive alias count" (an alias bomb) or an alias to an undefined anchor: point at the first alias.
    let at: number | undefined;
    visit(doc, { Alias: (_k, node) => {
      if (isAlias(node) && node.range) at = node.range[0];
      return visit.BREAK;
    } });
    const pos = at === undefined ? undefined : lc.linePos(at);
    throw new UserError(/alias count/i.test(e.message) ? `YAML: the aliases expand to more than ${MAX_YAML_ALIAS_COUNT} nodes (an alias bomb?); write the values out` : `YAML: ${e.message.split('\n')[0]}`, {
      file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
    });
  }
  return planScenario(ctx, data, opts);
}

/**
 * A scenario already read into plain data (a sweep point: the sweep file was parsed once, and its matrix values
 * substituted), checked and planned as loadScenario does, with errors located by field only: the caller knows
 * where the data came from (the sweep file, for a point).
 */
export function loadScenarioData(file: string, data: unknown, opts: LoadOptions = {}): LoadedScenario {
  return planScenario(new Ctx(file), data, opts);
}

/** The top level without steps; each step is validated on its own so the message names its kind. */
const TOP = Type.Object(
  {
    memhp: Type.Literal(1),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    machine: MachineSchema,
    faults: Type.Optional(FaultsSchema),
    steps: Type.Optional(Type.Array(Type.Unknown())),
  },
  { additionalProperties: false },
);

function planScenario(ctx: Ctx, data: unknown, opts: LoadOptions): LoadedScenario {
  const file = ctx.file;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) ctx.fail([], 'a scenario is a YAML mapping with memhp: 1, machine: and steps:');
  const top = data as Record<string, unknown>;

  if (top.memhp === undefined) ctx.fail([], 'missing "memhp: 1" (the scenario format version)');
  if (top.memhp !== 1) ctx.fail(['memhp'], `unsupported scenario format version ${JSON.stringify(top.memhp)}; this memhp reads version 1`);
  if (top.machine && typeof top.machine === 'object' && typeof (top.machine as Record<string, unknown>).kernel === 'number') {
    ctx.fail(['machine', 'kernel'], `write the kernel version as a quoted string ("${String((top.machine as Record<string, unknown>).kernel)}"): YAML reads 6.10 as the number 6.1`);
  }
  validate(ctx, TOP, top, []);

  const m = top.machine as StepLike;
  const kernelText = typeof m.kernel === 'string' ? m.kernel : undefined;
  let kernel: KernelVersion;
  try {
    kernel = opts.kernel ?? parseKernelVersion(kernelText ?? DEFAULT_KERNEL);
  } catch (e) {
    return ctx.fail(['machine', 'kernel'], (e as Error).message);
  }
  const pageSizeBytes = m.pageSize === undefined ? 4096 : Number(size(ctx, m.pageSize, ['machine', 'pageSize']));
  const nodes = (m.nodes as StepLike[]).map((n, i) => {
    const reservedPages: Partial<Record<ZoneName, number>> = {};
    for (const [zone, v] of Object.entries((n.reserved as StepLike | undefined) ?? {})) {
      const path = ['machine', 'nodes', i, 'reserved', zone];
      const bytes = size(ctx, v, path);
      if (bytes % BigInt(pageSizeBytes) !== 0n) ctx.fail(path, `${String(v)} is not a whole number of ${pageSizeBytes}-byte pages`);
      const pages = Number(bytes / BigInt(pageSizeBytes));
      if (pages > 0) reservedPages[zone as ZoneName] = pages;
    }
    return {
      id: n.id as number,
      memory: ((n.memory as StepLike[] | undefined) ?? []).map((r, j) => ({
        startBytes: size(ctx, r.start, ['machine', 'nodes', i, 'memory', j, 'start']),
        sizeBytes: size(ctx, r.size, ['machine', 'nodes', i, 'memory', j, 'size']),
      })),
      ...(Object.keys(reservedPages).length ? { reservedPages } : {}),
    };
  });
  const seenNodes = new Set<number>();
  nodes.forEach((n, i) => {
    if (seenNodes.has(n.id)) ctx.fail(['machine', 'nodes', i, 'id'], `node ${n.id} is listed twice`);
    seenNodes.add(n.id);
  });
  const sysctls: Record<string, string> = {};
  for (const [k, v] of Object.entries((m.sysctls as Record<string, unknown> | undefined) ?? {})) sysctls[k] = String(v === true ? 1 : v === false ? 0 : v);
  const machine: MachineConfig = {
    arch: m.arch as string,
    pageSizeBytes,
    structPageBytes: (m.structPageSize as number | undefined) ?? 64,
    kernel,
    cmdline: (m.cmdline as string | undefined) ?? '',
    ...(m.features ? { features: m.features as Record<string, string | number | boolean> } : {}),
    ...(m.blockSize !== undefined ? { blockSizeBytes: size(ctx, m.blockSize, ['machine', 'blockSize']) } : {}),
    nodes,
    ...(Object.keys(sysctls).length ? { sysctls } : {}),
  };

  const f = (top.faults as StepLike | undefined) ?? {};
  const policies: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (k !== 'seed') policies[k] = v;
  for (const problem of checkFaultConfig(policies as CoreFaultConfig)) {
    ctx.fail(problem.field.split('.').map((x) => (/^\d+$/.test(x) ? Number(x) : x)), problem.message);
  }
  const faults: FaultConfig = { seed: opts.seed ?? (f.seed as number | undefined) ?? 1, policies };

  const rawSteps = (top.steps as unknown[] | undefined) ?? [];
  const steps = rawSteps.map((s, i) => planStep(ctx, s, i));
  return {
    file,
    ...(typeof top.name === 'string' ? { name: top.name } : {}),
    ...(typeof top.description === 'string' ? { description: top.description } : {}),
    arch: { name: m.arch as string, where: ctx.where(['machine', 'arch']) },
    where: {
      cmdline: ctx.where(m.cmdline === undefined ? ['machine'] : ['machine', 'cmdline']),
      machine: ctx.where(['machine']),
      fields: {
        ...(m.blockSize !== undefined ? { blockSizeBytes: ctx.where(['machine', 'blockSize']) } : {}),
        ...Object.fromEntries(nodes.flatMap((n, i) => n.memory.map((_, j) => [`nodes[${i}].memory[${j}]`, ctx.where(['machine', 'nodes', i, 'memory', j])]))),
      },
    },
    machine,
    faults,
    steps,
  };
}

type StepLike = Record<string, unknown>;

/**
 * Uses of a schema after which its check is compiled: a sweep checks the same few schemas for each of its points
 * (~40 µs a point through the error iterator, a few µs compiled), while compiling one (~8 ms for the machine's)
 * would cost a single `memhp run` more than all of its checks.
 */
const COMPILE_AFTER = 8;
const checks = new WeakMap<TSchema, { uses: number; check?: (v: unknown) => boolean }>();

/** True when the value is valid, by the schema's compiled check once it has been used often; false: ask Errors. */
function validFast(schema: TSchema, value: unknown): boolean {
  let c = checks.get(schema);
  if (!c) checks.set(schema, (c = { uses: 0 }));
  if (!c.check && ++c.uses === COMPILE_AFTER) {
    const compiled = TypeCompiler.Compile(schema);
    c.check = (v) => compiled.Check(v);
  }
  return c.check?.(value) ?? false;
}

function validate(ctx: Ctx, schema: TSchema, value: unknown, base: readonly PathSeg[]): void {
  if (validFast(schema, value)) return;
  const first = Errors(schema, value).First();
  if (!first) return;
  const rel = pointerToPath(first.path);
  const path = [...base, ...rel];
  const v = first.value;
  let msg: string;
  if (first.schema === Size) msg = `not a size: ${JSON.stringify(v)} (expected e.g. 4K, 128M, 2G, 134217728 or 0x8000000)`;
  else if (first.schema === BlockList) msg = `not a block list: ${JSON.stringify(v)} (expected e.g. 32-39, 32,34,40-41 or 7)`;
  else if (/required property/i.test(first.message)) msg = `missing required field "${String(rel[rel.length - 1])}"`;
  else if (/unexpected property/i.test(first.message)) {
    const known = propertyNames(schema, rel.slice(0, -1));
    msg = `unknown field "${String(rel[rel.length - 1])}"${known.length ? `; known: ${known.join(', ')}` : ''}`;
    ctx.fail(path, msg, true);
  } else if ('anyOf' in first.schema && Array.isArray(first.schema.anyOf) && first.schema.anyOf.every((s: TSchema) => 'const' in s)) {
    msg = `${JSON.stringify(v)} is not one of ${first.schema.anyOf.map((s: TSchema) => JSON.stringify(s.const)).join(', ')}`;
  } else msg = `${first.message.replace(/^Expected/, 'expected')}${v === undefined ? '' : `, got ${JSON.stringify(v)}`}`;
  ctx.fail(path, msg);
}

function propertyNames(schema: TSchema, path: readonly PathSeg[]): string[] {
  let s: TSchema | undefined = schema;
  for (const seg of path) {
    if (!s) return [];
    if (s.type === 'object' && s.properties) s = (s.properties as Record<string, TSchema>)[String(seg)];
    else if (s.type === 'array' && s.items) s = s.items as TSchema;
    else if (s.type === 'object' && s.patternProperties) s = Object.values(s.patternProperties as Record<string, TSchema>)[0];
    else return [];
  }
  return s?.type === 'object' && s.properties ? Object.keys(s.properties as object) : [];
}

function size(ctx: Ctx, v: unknown, path: readonly PathSeg[]): bigint {
  try {
    return parseSize(v as string | number);
  } catch (e) {
    if (e instanceof SizeSyntaxError) ctx.fail(path, e.message);
    throw e;
  }
}

function planStep(ctx: Ctx, raw: unknown, index: number): PlannedStep {
  const path: PathSeg[] = ['steps', index];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) ctx.fail(path, `a step is a mapping with one key, one of: ${STEP_KINDS.join(', ')}`);
  const keys = Object.keys(raw);
  if (keys.length !== 1) ctx.fail(path, `a step has exactly one key (the step kind), found ${keys.length ? keys.join(', ') : 'none'}`);
  const kind = keys[0]!;
  if (!(STEP_KINDS as string[]).includes(kind)) ctx.fail([...path, kind], `unknown step "${kind}"; known: ${STEP_KINDS.join(', ')}`, true);
  const k = kind as StepKind;
  const body = (raw as StepLike)[k];
  const bodyPath = [...path, k];
  validate(ctx, STEP_SCHEMAS[k], body, bodyPath);
  const where = ctx.where(path);
  const label = `${k} ${compact(body)}`;
  if (k === 'expect') return { kind: 'expect', index, where, label, expect: planExpect(ctx, body as StepOf<'expect'>, bodyPath) };
  const s = (field: string): bigint => size(ctx, (body as StepLike)[field], [...bodyPath, field]);
  const os = (field: string): bigint | undefined => ((body as StepLike)[field] === undefined ? undefined : s(field));
  const range = () => ({ startBytes: s('start'), sizeBytes: s('size') });
  const blocks = (): BlockRange[] => {
    try {
      return parseBlockRanges((body as StepLike).blocks as string);
    } catch (e) {
      return ctx.fail([...bodyPath, 'blocks'], (e as Error).message);
    }
  };
  const cmd = (commands: Command[], extra: { hugepageSizeDefault?: boolean } = {}): PlannedStep => ({ kind: 'command', step: k, index, where, label, commands, count: commands.length, ...extra });
  /** One block_state command per block, made as the run reaches it. */
  const perBlock = (ranges: BlockRange[], state: OnlineType | 'offline'): PlannedStep => ({
    kind: 'command',
    step: k,
    index,
    where: ctx.where([...bodyPath, 'blocks']),
    label,
    commands: { *[Symbol.iterator]() {
      for (const block of blockIds(ranges)) yield { kind: 'block_state', block, state } as Command;
    } },
    count: blockCount(ranges),
    blocks: ranges,
  });
  switch (k) {
    case 'plug_dimm': {
      const b = body as StepOf<'plug_dimm'>;
      const start = os('start');
      return cmd([{ kind: 'plug_dimm', id: b.id, node: b.node, sizeBytes: s('size'), ...(start !== undefined ? { startBytes: start } : {}) }]);
    }
    case 'unplug_dimm':
      return cmd([{ kind: 'unplug_dimm', id: (body as StepOf<'unplug_dimm'>).id }]);
    case 'online': {
      const type: OnlineType = (body as StepOf<'online'>).type ?? 'online';
      return perBlock(blocks(), type);
    }
    case 'offline':
      return perBlock(blocks(), 'offline');
    case 'auto_online_blocks':
      return cmd([{ kind: 'auto_online_blocks', value: body as OnlineType | 'offline' }]);
    case 'hugepages': {
      const b = body as StepOf<'hugepages'>;
      // sizeBytes 0 means "the default huge page size"; the runner fills it from the backend.
      return cmd([{ kind: 'hugepages', ...(b.node !== undefined ? { node: b.node } : {}), sizeBytes: os('size') ?? 0n, count: b.count }], {
        hugepageSizeDefault: b.size === undefined,
      });
    }
    case 'sysctl':
      return cmd(
        Object.entries(body as Record<string, unknown>).map(([name, value]) => ({
          kind: 'sysctl' as const,
          name,
          value: String(value === true ? 1 : value === false ? 0 : value),
        })),
      );
    case 'virtio_mem': {
      const b = body as StepOf<'virtio_mem'>;
      const region = os('region');
      const start = os('start');
      const dbs = os('blockSize');
      return cmd([
        {
          kind: 'virtio_mem',
          id: b.id,
          ...(b.node !== undefined ? { node: b.node } : {}),
          ...(start !== undefined ? { regionStartBytes: start } : {}),
          ...(region !== undefined ? { regionBytes: region } : {}),
          requestedBytes: s('requested'),
          ...(dbs !== undefined ? { deviceBlockBytes: dbs } : {}),
        },
      ]);
    }
    case 'add_memory': {
      const b = body as StepOf<'add_memory'>;
      return cmd([{ kind: 'add_memory', node: b.node, range: range(), flags: (b.flags ?? []) as MhpFlag[] }]);
    }
    case 'add_memory_driver_managed': {
      const b = body as StepOf<'add_memory_driver_managed'>;
      return cmd([{ kind: 'add_memory_driver_managed', node: b.node, range: range(), resourceName: b.name ?? 'System RAM (kmem)', flags: (b.flags ?? []) as MhpFlag[] }]);
    }
    case 'remove_memory':
      return cmd([{ kind: 'remove_memory', range: range() }]);
    case 'offline_and_remove_memory':
      return cmd([{ kind: 'offline_and_remove_memory', range: range() }]);
    case 'probe':
      return cmd([{ kind: 'probe', startBytes: s('start') }]);
    case 'memremap_pages': {
      const b = body as StepOf<'memremap_pages'>;
      const reserve = os('altmapReserve');
      const free = os('altmapFree');
      return cmd([
        {
          kind: 'memremap_pages',
          ...(b.id !== undefined ? { id: b.id } : {}),
          node: b.node,
          range: range(),
          // the kernel's name whichever way the scenario spelled it (the schema admitted only known names)
          type: parsePgmapType(b.type) as PgmapType,
          ...(reserve !== undefined ? { altmapReserveBytes: reserve } : {}),
          ...(free !== undefined ? { altmapFreeBytes: free } : {}),
          ...(b.vmemmapShift !== undefined ? { vmemmapShift: b.vmemmapShift } : {}),
        },
      ]);
    }
    case 'memunmap_pages': {
      const b = body as StepOf<'memunmap_pages'>;
      if (b.id === undefined && b.start === undefined) ctx.fail(bodyPath, 'memunmap_pages needs id: or start: and size:');
      if ((b.start === undefined) !== (b.size === undefined)) ctx.fail(bodyPath, 'memunmap_pages needs both start: and size:');
      return cmd([{ kind: 'memunmap_pages', ...(b.id !== undefined ? { id: b.id } : {}), ...(b.start !== undefined ? { range: range() } : {}) }]);
    }
    case 'dax_kmem': {
      const b = body as StepOf<'dax_kmem'>;
      return cmd([{ kind: 'dax_kmem', id: b.id, node: b.node, range: range(), action: b.action }]);
    }
  }
  return ctx.fail(bodyPath, `step "${k}" is not handled`);
}

function counter(ctx: Ctx, v: string | number, path: readonly PathSeg[]): CounterExpect {
  if (typeof v === 'number') return { delta: false, value: v, text: String(v) };
  const m = /^\s*([+-])?\s*(\d+)\s*(kB)?\s*$/.exec(v);
  if (!m) ctx.fail(path, `not a counter value: ${JSON.stringify(v)} (expected e.g. 512, "+512", "24684084 kB" or "+129024 kB")`);
  const n = Number(m[2]);
  return { delta: m[1] !== undefined, value: m[1] === '-' ? -n : n, ...(m[3] ? { unit: m[3] } : {}), text: v.trim() };
}

function planExpect(ctx: Ctx, e: StepOf<'expect'>, path: readonly PathSeg[]): ExpectSpec {
  const out: { -readonly [K in keyof ExpectSpec]: ExpectSpec[K] } = {};
  if (e.errno !== undefined) {
    const v = e.errno === 0 ? 'ok' : e.errno;
    if (v !== 'ok' && !isErrnoName(v)) ctx.fail([...path, 'errno'], `unknown errno "${v}"; use ok or one of EPERM, EINTR, ENXIO, E2BIG, ENOMEM, EBUSY, EEXIST, EINVAL, ERANGE, EOPNOTSUPP, ENOTSUPP`);
    out.errno = v as ErrnoName | 'ok';
  }
  const counters = (obj: Record<string, string | number> | undefined, key: string) => {
    if (!obj) return undefined;
    // A null-prototype record: "__proto__" or "constructor" stay plain keys, checked like any other.
    const r = Object.create(null) as Record<string, CounterExpect>;
    for (const [k, v] of Object.entries(obj)) r[k] = counter(ctx, v, [...path, key, k]);
    return r;
  };
  if (e.meminfo) out.meminfo = counters(e.meminfo, 'meminfo');
  if (e.vmstat) out.vmstat = counters(e.vmstat, 'vmstat');
  if (e.zoneinfo) {
    const z = Object.create(null) as Record<string, Record<string, CounterExpect>>;
    for (const [zone, fields] of Object.entries(e.zoneinfo)) {
      if (!/^node\d+\/\w+$/.test(zone)) ctx.fail([...path, 'zoneinfo', zone], `zone key "${zone}" must be node<N>/<Zone>, e.g. node0/Normal`, true);
      z[zone] = Object.create(null) as Record<string, CounterExpect>;
      for (const [k, v] of Object.entries(fields)) z[zone][k] = counter(ctx, v, [...path, 'zoneinfo', zone, k]);
    }
    out.zoneinfo = z;
  }
  if (e.blocks) {
    const list: Array<{ ranges: BlockRange[]; text: string; expect: BlockExpect; where: Location }> = [];
    for (const [ids, attrs] of Object.entries(e.blocks)) {
      let ranges: BlockRange[];
      try {
        ranges = parseBlockRanges(ids.replace(/^memory/, ''));
      } catch (err) {
        ctx.fail([...path, 'blocks', ids], (err as Error).message, true);
      }
      const { removable, ...rest } = attrs;
      const a: BlockExpect = { ...rest, ...(removable !== undefined ? { removable: String(removable) } : {}) };
      list.push({ ranges, text: ids, expect: a, where: ctx.where([...path, 'blocks', ids], true) });
    }
    out.blocks = list;
  }
  return out;
}

function compact(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' && v >= 1 << 20) return `0x${v.toString(16)}`;
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(compact).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${compact(x)}`)
    .join(', ')}}`;
}
