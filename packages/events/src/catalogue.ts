import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
// Named imports, not the Value namespace: the namespace keeps every value operator (Cast, Convert, Create …) in a
// bundle, and a short command parses all of them.
import { Errors } from '@sinclair/typebox/errors';
import { Check } from '@sinclair/typebox/value';
import { EVENT_TYPE_PATTERN, type EventEnvelope } from './envelope.js';

export interface EventTypeDef<T extends string = string, S extends TSchema = TSchema> {
  type: T;
  version: number;
  /** TypeBox schema of the payload. */
  schema: S;
  /** One line; the docs' event reference is generated from it. */
  description: string;
  /** Upcaster from version-1 to this version (required when version > 1 and an older def is registered). */
  upcast?: (older: unknown) => Static<S>;
}

/** Identity helper that keeps the literal type name and the schema's static type. */
export function defineEvent<T extends string, S extends TSchema>(def: EventTypeDef<T, S>): EventTypeDef<T, S> {
  return def;
}

/** Payload type of a definition, for producers: `EventPayload<typeof sectionActivate>`. */
export type EventPayload<D> = D extends EventTypeDef<string, infer S> ? Static<S> : never;

export interface CatalogueIssue {
  /** JSON pointer into the envelope, e.g. '/payload/startPfn'. */
  path: string;
  message: string;
}

/** A payload check: what readers call per event. */
export interface PayloadCheck {
  Check(payload: unknown): boolean;
}

/**
 * Checks generated ahead of time from schemas (TypeBox's `TypeCompiler.Code`, written into a module at build),
 * keyed by {@link schemaFingerprint}: a process that uses them neither loads TypeBox's compiler nor compiles a
 * schema at run time. A schema without an entry (another backend's type, a changed schema) falls back to TypeBox.
 */
export type PrecompiledChecks = Readonly<Record<string, (value: unknown) => boolean>>;

export interface EventCatalogueOptions {
  /** Ahead-of-time checks, used for every registered schema whose fingerprint they hold. */
  precompiled?: PrecompiledChecks;
}

/**
 * A schema's key in {@link PrecompiledChecks}: a 53-bit hash (cyrb53) of its JSON text, the JSON Schema the check
 * is generated from. TypeBox schemas are JSON Schema: the rules TypeBox's symbol keys carry (Kind, Optional), which
 * JSON drops, show in the JSON too (type, required, anyOf …), so a schema whose JSON differs from the one a check was
 * generated from does not get that check.
 */
export function schemaFingerprint(schema: TSchema): string {
  const text = JSON.stringify(schema);
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * Payloads of a type checked by TypeBox's interpreter before its compiled check is built. Compiling a schema
 * costs about a millisecond, as much as interpreting it a few hundred times; a short command (`memhp check`,
 * the replay of a small log) emits or reads a handful of events of most types, so it never pays for compiling.
 */
const INTERPRET_FIRST = 64;

/**
 * The ahead-of-time check of the schema when `precompiled` holds one; otherwise interprets the first
 * {@link INTERPRET_FIRST} payloads, then compiles (same rules: all three are TypeBox's).
 */
class WarmingCheck implements PayloadCheck {
  readonly #schema: TSchema;
  #precompiled: PrecompiledChecks | undefined;
  #interpreted = 0;
  #compiled: TypeCheck<TSchema> | { Check: (value: unknown) => boolean } | undefined;

  constructor(schema: TSchema, precompiled: PrecompiledChecks | undefined) {
    this.#schema = schema;
    this.#precompiled = precompiled;
  }

  Check(payload: unknown): boolean {
    if (this.#compiled !== undefined) return this.#compiled.Check(payload);
    if (this.#precompiled !== undefined) {
      // Looked up on first use, not at registration: most processes check only a few of the types they register.
      const generated = this.#precompiled[schemaFingerprint(this.#schema)];
      this.#precompiled = undefined;
      if (generated !== undefined) {
        this.#compiled = { Check: generated };
        return generated(payload);
      }
    }
    if (this.#interpreted < INTERPRET_FIRST) {
      this.#interpreted++;
      return Check(this.#schema, payload);
    }
    this.#compiled = TypeCompiler.Compile(this.#schema);
    return this.#compiled.Check(payload);
  }
}

interface Entry {
  def: EventTypeDef;
  check: WarmingCheck;
}

/**
 * Registry of event types, one TypeBox schema per type and version. Not global: core, each arch backend and
 * each test create or extend their own, so two simulations never share mutable registration state.
 */
export class EventCatalogue {
  readonly #byType = new Map<string, Map<number, Entry>>();
  readonly #latest = new Map<string, Entry>();
  readonly #precompiled: PrecompiledChecks | undefined;

  constructor(defs?: Iterable<EventTypeDef>, options?: EventCatalogueOptions) {
    this.#precompiled = options?.precompiled;
    if (defs) for (const d of defs) this.register(d);
  }

  /** Register a type version; throws on a duplicate or on a broken upcast chain (a programming error). */
  register(def: EventTypeDef): this {
    if (typeof def.type !== 'string' || !EVENT_TYPE_PATTERN.test(def.type)) {
      throw new Error(`event type name ${JSON.stringify(def.type)} must match ${EVENT_TYPE_PATTERN}`);
    }
    if (!Number.isSafeInteger(def.version) || def.version < 1) {
      throw new Error(`event ${def.type}: version must be a positive integer, got ${String(def.version)}`);
    }
    let versions = this.#byType.get(def.type);
    if (versions?.has(def.version)) throw new Error(`event ${def.type}@${def.version} is already registered`);
    if (def.version > 1 && versions?.has(def.version - 1) && !def.upcast) {
      throw new Error(`event ${def.type}@${def.version} needs an upcast from v${def.version - 1}`);
    }
    const newer = versions?.get(def.version + 1);
    if (newer && !newer.def.upcast) {
      throw new Error(`event ${def.type}@${def.version + 1} is registered without an upcast from v${def.version}`);
    }
    const entry: Entry = { def, check: new WarmingCheck(def.schema, this.#precompiled) };
    if (!versions) {
      versions = new Map();
      this.#byType.set(def.type, versions);
    }
    versions.set(def.version, entry);
    const cur = this.#latest.get(def.type);
    if (!cur || cur.def.version < def.version) this.#latest.set(def.type, entry);
    return this;
  }

  has(type: string, v?: number): boolean {
    const versions = this.#byType.get(type);
    if (!versions) return false;
    return v === undefined ? true : versions.has(v);
  }

  latest(type: string): EventTypeDef | undefined {
    return this.#latest.get(type)?.def;
  }

  get(type: string, v: number): EventTypeDef | undefined {
    return this.#byType.get(type)?.get(v)?.def;
  }

  /** Versions registered for a type, ascending. */
  versions(type: string): number[] {
    return [...(this.#byType.get(type)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * Validate a payload for type@v; null when valid, else the first error located as a JSON pointer into the
   * envelope ('/payload/startPfn'). An unknown type or version is reported at '/type' or '/v'.
   */
  check(type: string, v: number, payload: unknown): CatalogueIssue | null {
    const versions = this.#byType.get(type);
    if (!versions) return { path: '/type', message: `unknown event type ${JSON.stringify(type)}` };
    const entry = versions.get(v);
    if (!entry) return { path: '/v', message: `unknown version ${v} of ${type} (known: ${this.versions(type).join(', ')})` };
    if (entry.check.Check(payload)) return null;
    return firstIssue(entry.def.schema, payload);
  }

  /** The fast path readers use: the check of type@v (compiled once warm), or undefined when not registered. */
  compiled(type: string, v: number): PayloadCheck | undefined {
    return this.#byType.get(type)?.get(v)?.check;
  }

  /**
   * A check of any schema (the log header's …) that uses this catalogue's ahead-of-time checks when they hold it.
   * Only the yes/no answer: on a failure, locate the problem with TypeBox's errors as before.
   */
  schemaCheck(schema: TSchema): PayloadCheck {
    return new WarmingCheck(schema, this.#precompiled);
  }

  /** Upcast an envelope to the latest version of its type, chaining v→v+1 upcasters; returns a new envelope. */
  upcast(e: EventEnvelope): EventEnvelope {
    const latest = this.#latest.get(e.type);
    if (!latest || latest.def.version === e.v) return e;
    const versions = this.#byType.get(e.type)!;
    let payload = e.payload;
    for (let v = e.v + 1; v <= latest.def.version; v++) {
      const step = versions.get(v);
      if (!step?.def.upcast) throw new Error(`event ${e.type}: no upcast path from v${v - 1} to v${v}`);
      payload = step.def.upcast(payload);
    }
    return { seq: e.seq, time: e.time, op: e.op, cause: e.cause, type: e.type, v: latest.def.version, payload };
  }

  list(): EventTypeDef[] {
    const out: EventTypeDef[] = [];
    for (const type of [...this.#byType.keys()].sort()) {
      for (const v of this.versions(type)) out.push(this.#byType.get(type)!.get(v)!.def);
    }
    return out;
  }

  /** JSON Schema of every type and version (TypeBox schemas are JSON Schema; its symbol keys are dropped). */
  jsonSchemas(): Array<{ type: string; version: number; description: string; schema: object }> {
    return this.list().map((d) => ({
      type: d.type,
      version: d.version,
      description: d.description,
      schema: JSON.parse(JSON.stringify(d.schema)) as object,
    }));
  }
}

function firstIssue(schema: TSchema, payload: unknown): CatalogueIssue {
  const first = Errors(schema, payload).First();
  if (!first) return { path: '/payload', message: 'invalid payload' };
  const message = first.message.length > 0 ? first.message[0]!.toLowerCase() + first.message.slice(1) : 'invalid';
  return { path: `/payload${first.path}`, message };
}

/** '/payload/ranges/0/startPfn' → 'payload.ranges[0].startPfn', the form LogError messages use. */
export function pointerToField(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}
