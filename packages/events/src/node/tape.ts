import type { EventEnvelope } from '../envelope.js';

/**
 * The event tape: how a plain log writer hands events to its writer thread. The producer (the thread running the
 * simulation) copies each event's values into 32-bit words — a few stores per field, no text — and the writer
 * thread turns the tape into exactly the bytes `serializeEvent(e) + '\n'` would give (tape-format.ts). JSON
 * formatting then runs on the second core instead of adding to every event on the first: at 26 M events it is the
 * difference between ≈0.55 µs and ≈0.18 µs per event on the producer (packages/core/bench/scale.ts, 64 TiB).
 *
 * Objects: each place in a payload (a type's payload, a field of it, an array's elements) learns the shapes of the
 * plain objects found there — their keys, in order — and writes an object of a known shape as its values only.
 * One for-in pass checks each key against the shape the last object there had and writes its value; a miss
 * falls back to looking the keys up among the place's shapes, then to the generic walk. This replaced a writer
 * generated per shape, which checked the keys in one pass and read every field again in a second: 0.9 s less
 * producer CPU at 64 TiB.
 *
 * Words (Int32; strings as UTF-16 code units packed two per word):
 *   event      := [typeId | flags << 16, words] time [num(op)] [NULL | num(cause)] [num(seq)] [num(v)] value(payload)
 *   time       := [~d] (time = the last event's time + d, d a non-negative int32) | [INT, i32] | [DBL, lo, hi]
 *   flags      := OP_SAME | CAUSE_SAME | SEQ_NEXT | V_ONE (TAPE.ENVELOPE): op and cause as the last event's,
 *                 seq the last event's + 1, v = 1; a field so flagged has no words. "The last event" is the one
 *                 before on the tape (none before the first: the time then counts from 0).
 *   type def   := [DEF_TYPE, typeId, str(type)]                         (precedes the first event of that type)
 *   value      := [~u] (u a non-negative int32: one negative word) | [INT, i32] | [DBL, lo, hi]
 *               | [STR, len, units…] | [NULL] | [TRUE] | [FALSE]
 *               | [OBJ, shapeId, value × keys]                          (keys and their order: the shape's)
 *               | [SHAPE_DEF, shapeId, nKeys, str(key) × nKeys] value    (precedes a shape's first object)
 *               | [GOBJ, n, (str(key) value) × n]                        (a plain object of no known shape)
 *               | [ARR, n, value × n]
 *               | [RAW, len, units…]                                    (JSON text from JSON.stringify)
 *   str        := len, units… (padded to a whole word)
 * The tags and the writer thread's decoder live together with this encoder's constants in TAPE (below), which is
 * handed to the thread as data.
 */
export const TAPE = {
  DEF_TYPE: -1,
  INT: 0,
  DBL: 1,
  STR: 2,
  NULL: 3,
  TRUE: 4,
  FALSE: 5,
  OBJ: 6,
  SHAPE_DEF: 7,
  GOBJ: 8,
  ARR: 9,
  RAW: 10,
  /**
   * Envelope flags, in the bits above a type id (ids stay below 2^TYPE_BITS): most events of a run repeat the op
   * and cause of the one before, follow its seq and are version 1, and then their envelope is three words.
   */
  ENVELOPE: { TYPE_BITS: 16, OP_SAME: 1, CAUSE_SAME: 2, SEQ_NEXT: 4, V_ONE: 8 },
} as const;

const { DEF_TYPE, INT, DBL, STR, NULL, TRUE, FALSE, OBJ, SHAPE_DEF, GOBJ, ARR, RAW } = TAPE;
const { TYPE_BITS, OP_SAME, CAUSE_SAME, SEQ_NEXT, V_ONE } = TAPE.ENVELOPE;

/** Shapes learnt per object site (a type's payload, or a field inside it); objects of any other → the generic path. */
const MAX_SHAPES_PER_SITE = 8;
const MAX_KEYS_PER_SHAPE = 64;
/** Type ids share their word with the envelope flags (ENVELOPE): they must stay below 2^TYPE_BITS. */
const MAX_TYPES = 4096;
const MAX_SHAPES = 65536;
const MAX_FIELDS_PER_SITE = 256;
/**
 * Words kept free after every string, object or array: enough for a shape's remaining number fields
 * (at most 3 × MAX_KEYS_PER_SHAPE), which are written without a bounds check of their own.
 */
const SLACK = 3 * MAX_KEYS_PER_SHAPE + 8;

/** An object site: where in a payload an object sits (the payload itself, or a field or array element of one). */
class Site {
  readonly shapes: Shape[] = [];
  /** The shape the last object here had: the next one is tried against it first. */
  last: Shape | null = null;
  /** Stop learning shapes here (too many): objects of no known shape take the generic path. */
  full = false;
  /** Sub-sites of fields, in the order the shapes asked for them; array elements use `elements`. */
  readonly fields = new Map<string, Site>();
  #elements: Site | undefined;

  field(k: string): Site {
    let s = this.fields.get(k);
    if (s === undefined) {
      // Dictionary-like objects bring keys without end: past a bound they share one site that learns no shapes.
      if (this.fields.size >= MAX_FIELDS_PER_SITE) return OVERFLOW;
      this.fields.set(k, (s = new Site()));
    }
    return s;
  }

  get elements(): Site {
    return (this.#elements ??= new Site());
  }
}

/** The site of everything past the bounds: generic path only, and its own sub-site. */
class OverflowSite extends Site {
  override full = true;
  override field(): Site {
    return this;
  }
  override get elements(): Site {
    return this;
  }
}
const OVERFLOW: Site = new OverflowSite();

interface Shape {
  readonly id: number;
  /** The object's own enumerable keys, in order (Object.keys). */
  readonly keys: readonly string[];
  /** The sites of the keys' values, index by index. */
  readonly subs: readonly Site[];
  /** Whether the tape the thread has seen holds this shape's SHAPE_DEF. */
  defined: boolean;
}

interface TypeEntry {
  readonly id: number;
  readonly type: string;
  defined: boolean;
  readonly site: Site;
}

const OP = Object.prototype;
const isArray = Array.isArray;
const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);

/** Thrown by an encoder writing into a fixed region (the writer thread's ring) when an event does not fit. */
export const TAPE_FULL: unique symbol = Symbol('tape full');

/**
 * Encodes events to tape words: in a growable buffer of its own, or straight into the writer thread's ring once
 * attached. Like EventEncoder, a value JSON.stringify would throw on (a bigint) throws here, and then nothing of
 * that event is kept.
 */

export class TapeEncoder {
  t: Int32Array<ArrayBufferLike>;
  u: Uint16Array<ArrayBufferLike>;
  /** Words written (in a fixed region: the next word index). */
  n = 0;
  /** One past the last word this event may use. */
  limit: number;
  /** Writing into a region it does not own (attach()): full means TAPE_FULL, not growth. */
  #fixed = false;
  readonly #types = new Map<string, TypeEntry>();
  #nextShape = 0;
  /** Definitions made by the encode in progress: undone if it throws. */
  readonly #fresh: Array<{ defined: boolean }> = [];
  /** The envelope of the last event encoded (NaN and undefined before the first: equal to nothing). */
  #seq = NaN;
  #time = 0;
  #op: number | undefined;
  #cause: number | null | undefined;

  constructor(initialWords = 1 << 18) {
    this.t = new Int32Array(Math.max(initialWords, 64));
    this.u = new Uint16Array(this.t.buffer);
    this.limit = this.t.length;
  }

  /**
   * Write into `words` (the writer thread's ring) from now on: the caller sets `n` and `limit` around each
   * encode, and an event that would pass `limit` throws TAPE_FULL (with nothing of it kept).
   */
  attach(words: Int32Array<ArrayBufferLike>): void {
    this.t = words;
    this.u = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
    this.#fixed = true;
  }

  /** The encoded words as bytes (valid until the next encode/reset). */
  bytes(): Uint8Array {
    return new Uint8Array(this.t.buffer, 0, this.n * 4);
  }

  reset(): void {
    this.n = 0;
  }

  ensure(words: number): void {
    if (this.n + words <= this.limit) return;
    if (this.#fixed) throw TAPE_FULL;
    const next = new Int32Array(Math.max(this.t.length * 2, this.n + words + 1024));
    next.set(this.t.subarray(0, this.n));
    this.t = next;
    this.u = new Uint16Array(next.buffer);
    this.limit = next.length;
  }

  encode(e: EventEnvelope): void {
    const start = this.n;
    // Setting an array's length is a runtime call even when it changes nothing: skip it in the common case.
    if (this.#fresh.length > 0) this.#fresh.length = 0;
    try {
      let te = this.#types.get(e.type);
      if (te === undefined) te = this.#newType(e.type);
      if (!te.defined) {
        this.ensure(2);
        this.t[this.n++] = DEF_TYPE;
        this.t[this.n++] = te.id;
        this.#bare(te.type);
        te.defined = true;
        this.#fresh.push(te);
      }
      // The envelope's five numbers: at most 3 words each, and the head.
      this.ensure(24);
      const t = this.t;
      const head = this.n;
      let w = head + 2;
      let flags = 0;
      const { seq, time, op, cause, v } = e;
      const dt = time - this.#time;
      if ((dt | 0) === dt && dt >= 0 && this.#time + dt === time) t[w++] = ~dt;
      else w = taggedAt(t, w, time);
      if (op === this.#op) flags |= OP_SAME;
      else w = numAt(t, w, op);
      if (cause === this.#cause) flags |= CAUSE_SAME;
      else if (cause === null) t[w++] = NULL;
      else w = numAt(t, w, cause);
      if (seq === this.#seq + 1) flags |= SEQ_NEXT;
      else w = numAt(t, w, seq);
      if (v === 1) flags |= V_ONE;
      else w = numAt(t, w, v);
      t[head] = te.id | (flags << TYPE_BITS);
      this.n = w;
      const p: unknown = e.payload;
      // serializeEvent writes `null` for a payload JSON.stringify leaves out (undefined, a function, a symbol).
      if (typeof p === 'object' && p !== null && !isArray(p)) {
        if (!this.obj(p, te.site)) this.#null();
      } else if (!this.other(p, te.site)) this.#null();
      this.t[head + 1] = this.n - head;
      // Only now: an event that throws leaves nothing on the tape, so the next one follows this one's predecessor.
      this.#seq = seq;
      this.#time = time;
      this.#op = op;
      this.#cause = cause;
    } catch (err) {
      this.n = start;
      for (const d of this.#fresh) d.defined = false;
      throw err;
    }
  }

  #newType(type: string): TypeEntry {
    const te: TypeEntry = { id: this.#types.size, type, defined: false, site: new Site() };
    if (this.#types.size < MAX_TYPES) this.#types.set(type, te);
    else te.site.full = true;
    return te;
  }

  /**
   * A number as JSON.stringify writes it: int32 words for the common case, the double's bits otherwise. The
   * caller has made room (3 words).
   */
  num(v: number): void {
    this.n = numAt(this.t, this.n, v);
  }

  str(s: string): void {
    this.ensure(1);
    this.t[this.n++] = STR;
    this.#bare(s);
  }

  /** A key or a type name: len, units (no tag). */
  #bare(s: string): void {
    const L = s.length;
    this.ensure(2 + (L >> 1) + SLACK);
    this.t[this.n] = L;
    const u = this.u;
    let c = (this.n + 1) * 2;
    for (let i = 0; i < L; i++) u[c++] = s.charCodeAt(i);
    this.n += 1 + ((L + 1) >> 1);
  }

  raw(json: string): void {
    this.ensure(1);
    this.t[this.n++] = RAW;
    this.#bare(json);
  }

  #null(): void {
    this.ensure(1);
    this.t[this.n++] = NULL;
  }

  /**
   * A value other than a number or string (which shapes write inline). False for what JSON.stringify
   * leaves out of an object (undefined, functions, symbols, a toJSON returning undefined).
   */
  other(v: unknown, site: Site): boolean {
    switch (typeof v) {
      case 'number':
        this.ensure(3);
        this.num(v);
        return true;
      case 'string':
        this.str(v);
        return true;
      case 'boolean':
        this.ensure(1);
        this.t[this.n++] = v ? TRUE : FALSE;
        return true;
      case 'object':
        if (v === null) this.#null();
        else if (isArray(v)) this.arr(v, site.elements);
        else return this.obj(v, site);
        return true;
      case 'bigint':
        // Throws JSON.stringify's own TypeError.
        JSON.stringify(v);
        return false;
      default:
        return false;
    }
  }

  arr(a: readonly unknown[], site: Site): void {
    if (typeof (a as { toJSON?: unknown }).toJSON === 'function') {
      this.#stringified(a);
      return;
    }
    const L = a.length;
    this.ensure(2);
    this.t[this.n++] = ARR;
    this.t[this.n++] = L;
    for (let i = 0; i < L; i++) {
      const x: unknown = a[i];
      this.ensure(3);
      if (typeof x === 'number') this.num(x);
      else if (typeof x === 'string') this.str(x);
      else if (!this.other(x, site)) this.#null();
    }
    this.ensure(SLACK);
  }

  /**
   * An object as [OBJ, shapeId, value × keys] when it is a plain object of a shape this site knows (the shape the
   * last object here had is tried first, then the others), else the generic walk; false only when JSON leaves it out.
   */
  obj(p: object, site: Site): boolean {
    // Shapes are for plain objects: a class instance or a toJSON holder is JSON.stringify's to write.
    if (Object.getPrototypeOf(p) !== OP || (p as { toJSON?: unknown }).toJSON !== undefined) return this.#generic(p, site);
    const last = site.last;
    if (last !== null && last.defined) {
      const start = this.n;
      const fresh = this.#fresh.length;
      if (this.#fields(p, last)) return true;
      this.#undo(start, fresh);
    }
    const shape = this.#shapeOf(p, site);
    if (shape !== null) {
      const start = this.n;
      const fresh = this.#fresh.length;
      if (!shape.defined) this.#define(shape);
      if (this.#fields(p, shape)) {
        site.last = shape;
        return true;
      }
      this.#undo(start, fresh);
    }
    return this.#generic(p, site);
  }

  /**
   * Writes [OBJ, id, values…] and returns true when the plain object p's for-in keys are exactly the shape's, in
   * order; else returns false, leaving words for the caller to undo. for-in also yields inherited
   * enumerable keys, so one on Object.prototype makes every object miss (and JSON.stringify's own-keys walk,
   * the generic path, decides). The check and the walk are one loop: each key is compared, then its value written.
   */
  #fields(p: object, sh: Shape): boolean {
    const K = sh.keys;
    // Room for the header and every field as a number; strings and nested values make their own.
    this.ensure(2 + 3 * K.length + SLACK);
    let t = this.t;
    let w = this.n;
    t[w] = OBJ;
    t[w + 1] = sh.id;
    w += 2;
    let i = 0;
    for (const k in p) {
      if (k !== K[i]) return false;
      const v: unknown = (p as Record<string, unknown>)[k];
      if (typeof v === 'number') w = numAt(t, w, v);
      else if (typeof v === 'string') {
        this.n = w;
        this.str(v);
        t = this.t;
        w = this.n;
      } else if (v === null) t[w++] = NULL;
      else if (v === true) t[w++] = TRUE;
      else if (v === false) t[w++] = FALSE;
      else {
        this.n = w;
        if (!this.other(v, sh.subs[i]!)) return false;
        t = this.t;
        w = this.n;
      }
      i++;
    }
    if (i !== K.length) return false;
    this.n = w;
    this.ensure(SLACK);
    return true;
  }

  /** Plain p's shape at this site: one it knows with the same keys, or a new one while the site has room; else null. */
  #shapeOf(p: object, site: Site): Shape | null {
    const keys = Object.keys(p);
    const shapes = site.shapes;
    for (let s = 0; s < shapes.length; s++) if (sameKeys(shapes[s]!.keys, keys)) return shapes[s]!;
    if (site.full || keys.length > MAX_KEYS_PER_SHAPE || this.#nextShape >= MAX_SHAPES) return null;
    if (shapes.length >= MAX_SHAPES_PER_SITE - 1) site.full = true;
    const shape: Shape = { id: this.#nextShape++, keys, subs: keys.map((k) => site.field(k)), defined: false };
    shapes.push(shape);
    return shape;
  }

  /** Drop the words from `at` on, and forget the definitions they carried (a shape that gave up half-way). */
  #undo(at: number, fresh: number): void {
    this.n = at;
    const f = this.#fresh;
    for (let i = fresh; i < f.length; i++) f[i]!.defined = false;
    f.length = fresh;
  }

  /** The shape's definition, written in front of its first object. */
  #define(s: Shape): void {
    this.ensure(3);
    this.t[this.n++] = SHAPE_DEF;
    this.t[this.n++] = s.id;
    this.t[this.n++] = s.keys.length;
    for (const k of s.keys) this.#bare(k);
    s.defined = true;
    this.#fresh.push(s);
  }

  #generic(p: object, site: Site): boolean {
    const proto: unknown = Object.getPrototypeOf(p);
    if (typeof (p as { toJSON?: unknown }).toJSON === 'function' || (proto !== OP && proto !== null)) return this.#stringified(p);
    this.ensure(2);
    this.t[this.n++] = GOBJ;
    const count = this.n++;
    let n = 0;
    for (const k of Object.keys(p)) {
      const v: unknown = (p as Record<string, unknown>)[k];
      const mark = this.n;
      const fresh = this.#fresh.length;
      this.#bare(k);
      this.ensure(3);
      if (typeof v === 'number') this.num(v);
      else if (typeof v === 'string') this.str(v);
      else if (!this.other(v, site.field(k))) {
        this.#undo(mark, fresh);
        continue;
      }
      n++;
    }
    this.t[count] = n;
    this.ensure(SLACK);
    return true;
  }

  /** Class instances and toJSON holders: JSON.stringify decides, byte for byte. */
  #stringified(v: object): boolean {
    const text = JSON.stringify(v) as string | undefined;
    if (text === undefined) return false;
    this.raw(text);
    return true;
  }
}

/**
 * A number at word w as JSON.stringify writes it; returns the next word. A non-negative int32 — most numbers of
 * events: pfns, counts, ids, seq — is one word, ~v (negative, so no tag can be mistaken for it); other int32s are
 * [INT, i32] and the rest [DBL, lo, hi].
 */
function numAt(t: Int32Array<ArrayBufferLike>, w: number, v: number): number {
  if ((v | 0) === v && v >= 0) {
    t[w] = ~v;
    return w + 1;
  }
  return taggedAt(t, w, v);
}

/** A number as numAt writes it, but always tagged ([INT, i32] or [DBL, lo, hi]): where a bare word means something else. */
function taggedAt(t: Int32Array<ArrayBufferLike>, w: number, v: number): number {
  if ((v | 0) === v) {
    t[w] = INT;
    t[w + 1] = v;
    return w + 2;
  }
  f64[0] = v;
  t[w] = DBL;
  t[w + 1] = i32[0]!;
  t[w + 2] = i32[1]!;
  return w + 3;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
