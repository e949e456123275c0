import type { EventEnvelope } from './envelope.js';
import { formatUint } from './digits.js';
import { serializeEvent } from './line.js';

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Serialises events as log lines straight into a reused byte buffer: the bytes equal
 * `serializeEvent(e) + '\n'` encoded as UTF-8, without building a string per event. Building strings and then
 * copying them to bytes costs more than JSON itself (TOOLCHAIN.md, "Serialisation speed"), which is what keeps
 * a generic writer under 1 M events/s.
 *
 * Where the time goes, and what each fast path saves (measured on core's scale-bench log, 170-byte lines):
 * - payloads: each type's payloads are written by a function compiled once per payload shape (own keys in
 *   order), with the key bytes as immediates and monomorphic property loads; a per-call guard re-checks the
 *   shape, and anything the compiled code does not handle byte-exactly falls back to the generic walk;
 * - the envelope: `,"type":…,"v":…,"payload":` is one cached byte run per type; seq, op and cause come from
 *   digit caches (they count up or repeat);
 * - ASCII strings and safe integers are written byte by byte; anything else goes through JSON.stringify for
 *   that value, so the output stays exactly JSON.stringify's.
 */
export class EventEncoder {
  readonly #w: ByteWriter;
  /** Per type: its envelope run and its compiled payload shapes; bounded so hostile logs cannot grow it forever. */
  readonly #types = new Map<string, TypeEntry>();

  readonly #seqDigits = new DigitCache();
  readonly #opDigits = new DigitCache();
  readonly #causeDigits = new DigitCache();

  constructor(initialBytes = 1 << 20) {
    this.#w = new ByteWriter(initialBytes);
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#w.off;
  }

  /** A view of the encoded bytes (valid until the next encode/reset). */
  bytes(): Uint8Array {
    return this.#w.buf.subarray(0, this.#w.off);
  }

  reset(): void {
    this.#w.off = 0;
  }

  /** Append one event line (with its newline). If anything throws (e.g. a bigint), nothing is appended. */
  encode(e: EventEnvelope): void {
    const w = this.#w;
    const start = w.off;
    try {
      w.ensure(96);
      let b = w.buf;
      let o = w.off;
      // {"seq":
      b[o] = 0x7b; b[o + 1] = 0x22; b[o + 2] = 0x73; b[o + 3] = 0x65; b[o + 4] = 0x71; b[o + 5] = 0x22; b[o + 6] = 0x3a; // prettier-ignore
      w.off = o + 7;
      w.slot(this.#seqDigits, e.seq);
      o = w.off;
      // ,"time":
      b[o] = 0x2c; b[o + 1] = 0x22; b[o + 2] = 0x74; b[o + 3] = 0x69; b[o + 4] = 0x6d; b[o + 5] = 0x65; b[o + 6] = 0x22; b[o + 7] = 0x3a; // prettier-ignore
      w.off = o + 8;
      w.num(e.time);
      w.ensure(48);
      b = w.buf;
      o = w.off;
      // ,"op":
      b[o] = 0x2c; b[o + 1] = 0x22; b[o + 2] = 0x6f; b[o + 3] = 0x70; b[o + 4] = 0x22; b[o + 5] = 0x3a; // prettier-ignore
      w.off = o + 6;
      w.slot(this.#opDigits, e.op);
      o = w.off;
      // ,"cause":
      b[o] = 0x2c; b[o + 1] = 0x22; b[o + 2] = 0x63; b[o + 3] = 0x61; b[o + 4] = 0x75; b[o + 5] = 0x73; b[o + 6] = 0x65; b[o + 7] = 0x22; b[o + 8] = 0x3a; // prettier-ignore
      w.off = o + 9;
      if (e.cause === null) w.null();
      else w.slot(this.#causeDigits, e.cause);
      const t = this.#typeEntry(e.type, e.v);
      if (t.v === e.v) {
        w.raw(t.head);
      } else {
        w.raw(t.typeBytes);
        w.num(e.v);
        w.raw(PAYLOAD);
      }
      this.#payload(t, e.payload);
      w.ensure(2);
      w.buf[w.off++] = 0x7d; // }
      w.buf[w.off++] = 0x0a; // \n
    } catch (err) {
      w.off = start;
      throw err;
    }
  }

  /** Self-check used by tests: the generic serialiser and this encoder must agree byte for byte. */
  static reference(e: EventEnvelope): string {
    return `${serializeEvent(e)}\n`;
  }

  #typeEntry(type: string, v: number): TypeEntry {
    let t = this.#types.get(type);
    if (t === undefined) {
      const typeBytes = UTF8.encode(`,"type":${JSON.stringify(type)},"v":`);
      t = { v, typeBytes, head: cat(typeBytes, ascii(JSON.stringify(v)), PAYLOAD), shapes: [] };
      if (this.#types.size < 4096) this.#types.set(type, t);
      else t.shapes = null;
      // The head run holds v as a safe integer's digits only; anything else takes the w.num path.
      if (!Number.isSafeInteger(v)) t.v = Number.NaN;
    }
    return t;
  }

  /**
   * A payload through its type's compiled shape encoder when the payload has one of the shapes seen before for
   * that type (same own keys in the same order, plain object); otherwise the generic walk. A shape encoder gives
   * up (returns false) on anything it does not handle byte-exactly, and the generic walk redoes the payload.
   */
  #payload(t: TypeEntry, p: unknown): void {
    const w = this.#w;
    const shapes = t.shapes;
    if (shapes === null || typeof p !== 'object' || p === null || Array.isArray(p)) {
      w.value(p === undefined ? null : p);
      return;
    }
    const start = w.off;
    for (let i = 0; i < shapes.length; i++) {
      if (shapes[i]!(p, w)) return;
      w.off = start;
    }
    if (shapes.length < MAX_SHAPES_PER_TYPE) {
      const shape = compileShape(p);
      if (shape !== null) {
        shapes.push(shape);
        if (shape(p, w)) return;
        w.off = start;
      }
    }
    w.value(p);
  }
}

interface TypeEntry {
  /** The v `head` was built for (NaN: none). */
  v: number;
  /** `,"type":"x","v":` */
  typeBytes: Uint8Array;
  /** `,"type":"x","v":N,"payload":` for v = N. */
  head: Uint8Array;
  /** Compiled payload shapes, or null once the type table is full. */
  shapes: ShapeEncoder[] | null;
}

const MAX_SHAPES_PER_TYPE = 4;

/** Writes one payload of a known shape; false when this payload is not of that shape or holds a value it skips. */
type ShapeEncoder = (p: object, w: ByteWriter) => boolean;

/**
 * The growable byte buffer everything writes into. buf and off are plain fields so compiled shape encoders
 * can store key bytes as immediates.
 */
class ByteWriter {
  buf: Uint8Array;
  off = 0;

  constructor(initialBytes: number) {
    this.buf = new Uint8Array(Math.max(initialBytes, 128));
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.off + n + 1024));
    next.set(this.buf.subarray(0, this.off));
    this.buf = next;
  }

  /** Small copies by hand: TypedArray.set costs a runtime call that dominates for 5–40 bytes. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    const b = this.buf;
    let o = this.off;
    for (let i = 0; i < bytes.length; i++) b[o++] = bytes[i]!;
    this.off = o;
  }

  null(): void {
    this.ensure(4);
    const b = this.buf;
    const o = this.off;
    b[o] = 0x6e; b[o + 1] = 0x75; b[o + 2] = 0x6c; b[o + 3] = 0x6c; // prettier-ignore
    this.off = o + 4;
  }

  /** JSON text of a value that is not a plain ASCII string or a safe integer (via JSON.stringify). */
  text(s: string): void {
    this.ensure(s.length * 3);
    const r = UTF8.encodeInto(s, this.buf.subarray(this.off));
    this.off += r.written;
  }

  num(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.text(JSON.stringify(n));
      return;
    }
    this.ensure(17);
    if (n < 0) {
      this.buf[this.off++] = 0x2d;
      n = -n;
    }
    this.off = formatUint(n, this.buf, this.off);
  }

  /** An envelope number through its slot's cache (seq, op and cause mostly repeat or count up by one). */
  slot(d: DigitCache, n: number): void {
    if (!d.set(n)) {
      this.num(n);
      return;
    }
    this.ensure(16);
    const b = this.buf;
    let o = this.off;
    const src = d.bytes;
    for (let i = d.start; i < src.length; i++) b[o++] = src[i]!;
    this.off = o;
  }

  str(s: string): void {
    const L = s.length;
    this.ensure(L + 2);
    const b = this.buf;
    let o = this.off;
    b[o++] = 0x22;
    for (let i = 0; i < L; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.text(JSON.stringify(s));
        return;
      }
      b[o++] = c;
    }
    b[o++] = 0x22;
    this.off = o;
  }

  /** A value inside a compiled shape that is neither string nor number; false for the kinds JSON.stringify leaves out of an object. */
  other(v: unknown): boolean {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return false;
    this.value(v);
    return true;
  }

  #key(k: string, first: boolean): void {
    let bytes = KEYS.get(k);
    if (bytes === undefined) {
      bytes = UTF8.encode(`,${JSON.stringify(k)}:`);
      if (KEYS.size < 4096) KEYS.set(k, bytes);
    }
    this.ensure(bytes.length);
    const b = this.buf;
    let o = this.off;
    for (let i = first ? 1 : 0; i < bytes.length; i++) b[o++] = bytes[i]!;
    this.off = o;
  }

  /** The generic walk: JSON.stringify's output for any value, byte for byte. */
  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.num(v);
        return;
      case 'string':
        this.str(v);
        return;
      case 'boolean':
        this.raw(v ? TRUE : FALSE);
        return;
      case 'object': {
        if (v === null) {
          this.null();
          return;
        }
        if (Array.isArray(v)) {
          this.ensure(1);
          this.buf[this.off++] = 0x5b;
          for (let i = 0; i < v.length; i++) {
            if (i > 0) {
              this.ensure(1);
              this.buf[this.off++] = 0x2c;
            }
            const x: unknown = v[i];
            if (x === undefined || typeof x === 'function' || typeof x === 'symbol') this.null();
            else this.value(x);
          }
          this.ensure(1);
          this.buf[this.off++] = 0x5d;
          return;
        }
        if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
          this.text(JSON.stringify(v));
          return;
        }
        this.ensure(1);
        this.buf[this.off++] = 0x7b;
        let first = true;
        // Plain objects' prototype has no enumerable keys (unless polluted), so for-in sees own keys only.
        const plain = Object.getPrototypeOf(v) === Object.prototype;
        for (const k in v) {
          if (!plain && !hasOwn.call(v, k)) continue;
          const x: unknown = (v as Record<string, unknown>)[k];
          if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
          this.#key(k, first);
          first = false;
          this.value(x);
        }
        this.ensure(1);
        this.buf[this.off++] = 0x7d;
        return;
      }
      default:
        // bigint throws here exactly as JSON.stringify would; functions/symbols at top level become null.
        this.text(JSON.stringify(v) ?? 'null');
    }
  }
}

/**
 * Generate the encoder for p's shape: its own enumerable string keys, in order; null when not worth compiling.
 * The generated function re-checks the shape on every call — plain prototype, no toJSON, and for-in yielding
 * exactly these keys in this order — so an object that merely shares a type is never written with the wrong keys.
 * Keys enter the source only as JSON string literals, which are valid JavaScript string literals, so no key can
 * inject code.
 */
function compileShape(p: object): ShapeEncoder | null {
  if (Object.getPrototypeOf(p) !== Object.prototype) return null;
  const keys = Object.keys(p);
  if (keys.length > 64) return null;
  const body: string[] = [];
  keys.forEach((k, i) => {
    const bytes = UTF8.encode(`${i === 0 ? '{' : ','}${JSON.stringify(k)}:`);
    body.push(
      `w.ensure(${bytes.length}); b = w.buf; o = w.off;`,
      Array.from(bytes, (x, j) => `b[o + ${j}] = ${x};`).join(' '),
      `w.off = o + ${bytes.length}; v = p[${JSON.stringify(k)}];`,
      `if (typeof v === 'string') w.str(v); else if (typeof v === 'number') w.num(v); else if (!w.other(v)) return false;`,
    );
  });
  if (keys.length === 0) body.push(`w.ensure(1); w.buf[w.off++] = 123;`);
  body.push(`w.ensure(1); w.buf[w.off++] = 125; return true;`);
  const src = [
    `const K = ${JSON.stringify(keys)};`,
    `return function shape(p, w) {`,
    `  if (Object.getPrototypeOf(p) !== OP || p.toJSON !== undefined) return false;`,
    `  let n = 0;`,
    `  for (const k in p) { if (k !== K[n]) return false; n++; }`,
    `  if (n !== ${keys.length}) return false;`,
    `  let b, o, v;`,
    ...body.map((l) => `  ${l}`),
    `};`,
  ].join('\n');
  // Generated from JSON-quoted keys only (see above).
  return (new Function('OP', src) as (op: object) => ShapeEncoder)(Object.prototype);
}

/**
 * Decimal digits of one envelope slot's last value, right-aligned in a fixed array. Along a log seq counts up by
 * one, cause mostly does too, and op repeats for a whole command, so re-formatting them is mostly wasted work.
 */
class DigitCache {
  readonly bytes = new Uint8Array(16);
  start = 16;
  #value = -1;

  /** Make `bytes[start..]` spell n; false when n is not a cacheable non-negative safe integer. */
  set(n: number): boolean {
    if (n === this.#value) return true;
    if (!(n >= 0 && n <= 999_999_999_999_999 && Number.isSafeInteger(n))) return false;
    const b = this.bytes;
    if (n === this.#value + 1 && this.#value >= 0) {
      let i = b.length - 1;
      while (i >= this.start && b[i] === 0x39) b[i--] = 0x30;
      if (i >= this.start) b[i]!++;
      else b[(this.start = i)] = 0x31;
    } else {
      const len = decimalLength(n);
      this.start = b.length - len;
      formatUint(n, b, this.start);
    }
    this.#value = n;
    return true;
  }
}

function decimalLength(n: number): number {
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

const UTF8 = new TextEncoder();
/** `,"key":` bytes per key the generic walk has seen (shared: keys are the vocabulary's, not the log's). */
const KEYS = new Map<string, Uint8Array>();
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const PAYLOAD = ascii(',"payload":');
const TRUE = ascii('true');
const FALSE = ascii('false');
