import type { EventEnvelope } from './envelope.js';
import { serializeEvent } from './line.js';

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Serialises events as log lines straight into a reused byte buffer: the bytes equal
 * `serializeEvent(e) + '\n'` encoded as UTF-8, without building a string per event. Building strings and then
 * copying them to bytes costs more than JSON itself (TOOLCHAIN.md, "Serialisation speed"), which is what keeps
 * a generic writer under 1 M events/s. ASCII text, safe integers and repeated keys take byte-level fast paths;
 * anything else falls back to JSON.stringify for that value, so the output stays exactly JSON.stringify's.
 */
export class EventEncoder {
  #buf: Uint8Array;
  #off = 0;
  readonly #utf8 = new TextEncoder();
  /** `,"key":` bytes per key seen; bounded so hostile payloads with ever-new keys cannot grow it forever. */
  readonly #keys = new Map<string, Uint8Array>();
  /** `,"type":"x","v":` bytes per type. */
  readonly #types = new Map<string, Uint8Array>();

  readonly #seqDigits = new DigitCache();
  readonly #opDigits = new DigitCache();
  readonly #causeDigits = new DigitCache();

  constructor(initialBytes = 1 << 20) {
    this.#buf = new Uint8Array(initialBytes);
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#off;
  }

  /** A view of the encoded bytes (valid until the next encode/reset). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#off);
  }

  reset(): void {
    this.#off = 0;
  }

  /** Append one event line (with its newline). If anything throws (e.g. a bigint), nothing is appended. */
  encode(e: EventEnvelope): void {
    const start = this.#off;
    try {
      this.#ensure(64);
      this.#raw(SEQ);
      this.#slot(this.#seqDigits, e.seq);
      this.#raw(TIME);
      this.#num(e.time);
      this.#ensure(64);
      this.#raw(OP);
      this.#slot(this.#opDigits, e.op);
      this.#raw(CAUSE);
      if (e.cause === null) this.#raw(NULL);
      else this.#slot(this.#causeDigits, e.cause);
      let t = this.#types.get(e.type);
      if (t === undefined) {
        t = this.#utf8.encode(`,"type":${JSON.stringify(e.type)},"v":`);
        if (this.#types.size < 4096) this.#types.set(e.type, t);
      }
      this.#ensure(t.length + 32);
      this.#raw(t);
      this.#num(e.v);
      this.#ensure(16);
      this.#raw(PAYLOAD);
      this.#value(e.payload === undefined ? null : e.payload);
      this.#ensure(2);
      this.#buf[this.#off++] = 0x7d; // }
      this.#buf[this.#off++] = 0x0a; // \n
    } catch (err) {
      this.#off = start;
      throw err;
    }
  }

  /** Self-check used by tests: the generic serialiser and this encoder must agree byte for byte. */
  static reference(e: EventEnvelope): string {
    return `${serializeEvent(e)}\n`;
  }

  #ensure(n: number): void {
    if (this.#off + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#off + n + 1024));
    next.set(this.#buf.subarray(0, this.#off));
    this.#buf = next;
  }

  /** Small copies by hand: TypedArray.set costs a runtime call that dominates for 5–20 bytes. */
  #raw(bytes: Uint8Array): void {
    const b = this.#buf;
    let o = this.#off;
    for (let i = 0; i < bytes.length; i++) b[o++] = bytes[i]!;
    this.#off = o;
  }

  #num(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.#text(JSON.stringify(n));
      return;
    }
    this.#ensure(17);
    if (n < 0) {
      this.#buf[this.#off++] = 0x2d;
      n = -n;
    }
    this.#off = formatUint(n, this.#buf, this.#off);
  }

  /** An envelope number through its slot's cache (seq, op and cause mostly repeat or count up by one). */
  #slot(d: DigitCache, n: number): void {
    if (!d.set(n)) {
      this.#num(n);
      return;
    }
    const b = this.#buf;
    let o = this.#off;
    const src = d.bytes;
    for (let i = d.start; i < src.length; i++) b[o++] = src[i]!;
    this.#off = o;
  }

  #text(s: string): void {
    this.#ensure(s.length * 3);
    const r = this.#utf8.encodeInto(s, this.#buf.subarray(this.#off));
    this.#off += r.written;
  }

  #str(s: string): void {
    const L = s.length;
    this.#ensure(L + 2);
    const b = this.#buf;
    let o = this.#off;
    b[o++] = 0x22;
    for (let i = 0; i < L; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.#text(JSON.stringify(s));
        return;
      }
      b[o++] = c;
    }
    b[o++] = 0x22;
    this.#off = o;
  }

  #key(k: string, first: boolean): void {
    let bytes = this.#keys.get(k);
    if (bytes === undefined) {
      bytes = this.#utf8.encode(`,${JSON.stringify(k)}:`);
      if (this.#keys.size < 4096) this.#keys.set(k, bytes);
    }
    this.#ensure(bytes.length);
    const b = this.#buf;
    let o = this.#off;
    for (let i = first ? 1 : 0; i < bytes.length; i++) b[o++] = bytes[i]!;
    this.#off = o;
  }

  #value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.#num(v);
        return;
      case 'string':
        this.#str(v);
        return;
      case 'boolean':
        this.#text(v ? 'true' : 'false');
        return;
      case 'object': {
        if (v === null) {
          this.#text('null');
          return;
        }
        if (Array.isArray(v)) {
          this.#ensure(1);
          this.#buf[this.#off++] = 0x5b;
          for (let i = 0; i < v.length; i++) {
            if (i > 0) {
              this.#ensure(1);
              this.#buf[this.#off++] = 0x2c;
            }
            const x: unknown = v[i];
            if (x === undefined || typeof x === 'function' || typeof x === 'symbol') this.#text('null');
            else this.#value(x);
          }
          this.#ensure(1);
          this.#buf[this.#off++] = 0x5d;
          return;
        }
        if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
          this.#text(JSON.stringify(v));
          return;
        }
        this.#ensure(1);
        this.#buf[this.#off++] = 0x7b;
        let first = true;
        // Plain objects' prototype has no enumerable keys (unless polluted), so for-in sees own keys only.
        const plain = Object.getPrototypeOf(v) === Object.prototype;
        for (const k in v) {
          if (!plain && !hasOwn.call(v, k)) continue;
          const x: unknown = (v as Record<string, unknown>)[k];
          if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
          this.#key(k, first);
          first = false;
          this.#value(x);
        }
        this.#ensure(1);
        this.#buf[this.#off++] = 0x7d;
        return;
      }
      default:
        // bigint throws here exactly as JSON.stringify would; functions/symbols at top level become null.
        this.#text(JSON.stringify(v) ?? 'null');
    }
  }
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

/** Write 0 ≤ n ≤ 2^53 in decimal at b[off..]; returns the new offset. No string is allocated. */
function formatUint(n: number, b: Uint8Array, off: number): number {
  if (n < 2147483648) {
    if (n < 10) {
      b[off] = 48 + n;
      return off + 1;
    }
    const len = n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    let p = off + len;
    while (n >= 10) {
      const q = (n / 10) | 0;
      b[--p] = 48 + n - q * 10;
      n = q;
    }
    b[p - 1] = 48 + n;
    return off + len;
  }
  // pfns and byte offsets: split in base 1e8 so every part fits int32 arithmetic.
  const hi = Math.floor(n / 1e8);
  let lo = n - hi * 1e8;
  const end = formatUint(hi, b, off) + 8;
  let p = end;
  for (let k = 0; k < 8; k++) {
    const q = (lo / 10) | 0;
    b[--p] = 48 + lo - q * 10;
    lo = q;
  }
  return end;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const SEQ = ascii('{"seq":');
const TIME = ascii(',"time":');
const OP = ascii(',"op":');
const CAUSE = ascii(',"cause":');
const PAYLOAD = ascii(',"payload":');
const NULL = ascii('null');
