import type { formatUint as formatUintType } from '../digits.js';
import type { TAPE } from './tape.js';

/**
 * Takes formatted bytes: `chunk` always starts at the beginning of the formatter's buffer and ends on a line
 * boundary; the sink returns how many bytes from its start it took (a direct-I/O sink takes whole blocks only).
 * What it leaves stays buffered, in front of the next bytes.
 */
export type TapeSink = (chunk: Uint8Array) => number;

/** Turns tape frames into log lines, buffered. */
export interface TapeFormatter {
  /** Decode one frame of tape words (a 4-byte-aligned view), offering the buffer to `out` when full and at the end. */
  frame(bytes: Uint8Array, out: TapeSink): void;
  /** Append bytes as they are (the header line), then offer the buffer to `out`. */
  raw(bytes: Uint8Array, out: TapeSink): void;
  /** Formatted bytes no sink has taken yet. */
  pending(): Uint8Array;
}

/**
 * The writer thread's half of the tape (tape.ts): decodes words into exactly the bytes `serializeEvent(e) + '\n'`
 * gives. It runs in the writer thread from its source text, so it must not close over anything of this module:
 * the tags and the digit writer (digits.ts, shared with EventEncoder) come in as arguments, and everything else it
 * uses is a global of every JavaScript realm.
 * Tests run it in-process on the encoder's output.
 *
 * Speed: each event's word count bounds its text (at most 14 bytes per word plus the longest key per value), so
 * the buffer is checked once per event and every write after that is unchecked; the output offset lives in
 * locals and arguments, never in a closure slot the hot loops would reload.
 */
export function tapeFormatter(tags: typeof TAPE, outBytes: number, formatUint: typeof formatUintType): TapeFormatter {
  const { DEF_TYPE, INT, DBL, STR, NULL, TRUE, FALSE, OBJ, SHAPE_DEF, GOBJ, ARR, RAW } = tags;
  const { TYPE_BITS, OP_SAME, CAUSE_SAME, SEQ_NEXT, V_ONE } = tags.ENVELOPE;
  const TYPE_MASK = (1 << TYPE_BITS) - 1;
  const utf8 = new TextEncoder();
  /** Per type id: writes `,"type":"…","v":`. */
  const types: Array<(b: Uint8Array, o: number) => number> = [];
  /** Per shape id: writes an object of that shape (keys as immediates, values through value()). */
  const shapes: Array<(b: Uint8Array, o: number) => number> = [];

  /**
   * Compile a writer for a constant run of bytes around value() calls: `parts` alternate bytes and value slots.
   * Storing immediates is several times faster than copying the same bytes from an array (measured: key copies
   * were most of the formatter's time). Only numbers enter the generated source.
   */
  function compileRuns(parts: Uint8Array[], values: number): (b: Uint8Array, o: number) => number {
    const body: string[] = [];
    parts.forEach((bytes, i) => {
      if (bytes.length > 0) {
        body.push(Array.from(bytes, (x, j) => `b[o + ${j}] = ${x};`).join(' '), `o += ${bytes.length};`);
      }
      if (i < values) body.push('o = value(b, o);');
    });
    body.push('return o;');
    return new Function('value', `return function run(b, o) {\n${body.join('\n')}\n};`)(value) as (b: Uint8Array, o: number) => number;
  }
  /** The longest key run or type head so far: with 14 bytes per word, it bounds an event's text. */
  let maxKey = 64;

  const cap = Math.max(outBytes, 1 << 16);
  let buf = new Uint8Array(cap);
  /** Bytes in buf, formatted and not yet taken by a sink. */
  let held = 0;
  /** Offer buf[0, o) to the sink; keep what it leaves at the start. Returns the new fill. */
  const offer = (out: TapeSink, o: number): number => {
    if (o === 0) return 0;
    const took = out(buf.subarray(0, o));
    if (took < o) buf.copyWithin(0, took, o);
    return o - took;
  };
  /** Make room for `need` more bytes after the first o: offer the buffer, grow only if that is not enough. */
  const room = (out: TapeSink, o: number, need: number): number => {
    if (o + need <= buf.length) return o;
    o = offer(out, o);
    if (o + need > buf.length) {
      const next = new Uint8Array(Math.max(buf.length * 2, o + need + 4096));
      next.set(buf.subarray(0, o));
      buf = next;
    }
    return o;
  };
  let t: Int32Array<ArrayBufferLike> = new Int32Array(0);
  let u: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  let p = 0;
  /** Where the event being formatted ends (word index), for the SHAPE_DEF re-check. */
  let eventEnd = 0;
  let eventOut = 0;
  const f64 = new Float64Array(1);
  const f64i32 = new Int32Array(f64.buffer);
  /** Thrown when a shape defined inside an event makes its bound exceed the room left: the event is redone. */
  const RESTART = { restart: true };

  /** The string of `len` units at u[at…], exactly (lone surrogates included), in chunks the call stack can take. */
  function str(at: number, len: number): string {
    let s = '';
    for (let i = 0; i < len; i += 8192) s += String.fromCharCode.apply(null, Array.from(u.subarray(at + i, at + Math.min(len, i + 8192))));
    return s;
  }

  /** JSON text of a string of `len` units at u[at…] (JSON.stringify's escaping; a fast path for plain ASCII). */
  function quoted(b: Uint8Array, o: number, at: number, len: number): number {
    const start = o;
    b[o++] = 0x22;
    for (let i = 0; i < len; i++) {
      const c = u[at + i]!;
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return text(b, start, JSON.stringify(str(at, len)));
      b[o++] = c;
    }
    b[o++] = 0x22;
    return o;
  }

  /** Text that is already JSON, UTF-8 encoded (within the event's bound: at most 3 bytes per unit). */
  function text(b: Uint8Array, o: number, s: string): number {
    return o + utf8.encodeInto(s, b.subarray(o)).written;
  }

  function number(b: Uint8Array, o: number, v: number): number {
    if (Number.isSafeInteger(v)) {
      if (v < 0) {
        b[o++] = 0x2d;
        v = -v;
      }
      return formatUint(v, b, o);
    }
    return text(b, o, JSON.stringify(v));
  }

  /** Format the value at t[p…] into b at o; returns the new offset. */
  function value(b: Uint8Array, o: number): number {
    const tag = t[p++]!;
    // A non-negative int32 by itself (tags are all ≥ 0).
    if (tag < 0) return formatUint(~tag, b, o);
    if (tag === INT) {
      const v = t[p++]!;
      if (v < 0) {
        b[o++] = 0x2d;
        return formatUint(-v, b, o);
      }
      return formatUint(v, b, o);
    }
    if (tag === STR) {
      const len = t[p]!;
      o = quoted(b, o, (p + 1) * 2, len);
      p += 1 + ((len + 1) >> 1);
      return o;
    }
    if (tag === OBJ) return shapes[t[p++]!]!(b, o);
    if (tag === NULL) {
      b[o] = 0x6e; b[o + 1] = 0x75; b[o + 2] = 0x6c; b[o + 3] = 0x6c; // prettier-ignore
      return o + 4;
    }
    if (tag === DBL) {
      f64i32[0] = t[p++]!;
      f64i32[1] = t[p++]!;
      return number(b, o, f64[0]!);
    }
    if (tag === TRUE) {
      b[o] = 0x74; b[o + 1] = 0x72; b[o + 2] = 0x75; b[o + 3] = 0x65; // prettier-ignore
      return o + 4;
    }
    if (tag === FALSE) {
      b[o] = 0x66; b[o + 1] = 0x61; b[o + 2] = 0x6c; b[o + 3] = 0x73; b[o + 4] = 0x65; // prettier-ignore
      return o + 5;
    }
    if (tag === ARR) {
      const n = t[p++]!;
      b[o++] = 0x5b;
      for (let i = 0; i < n; i++) {
        if (i > 0) b[o++] = 0x2c;
        o = value(b, o);
      }
      b[o++] = 0x5d;
      return o;
    }
    if (tag === SHAPE_DEF) {
      const id = t[p++]!;
      const n = t[p++]!;
      const parts: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const len = t[p]!;
        const k = utf8.encode(`${i === 0 ? '{' : ','}${JSON.stringify(str((p + 1) * 2, len))}:`);
        parts.push(k);
        if (k.length > maxKey) maxKey = k.length;
        p += 1 + ((len + 1) >> 1);
      }
      parts.push(utf8.encode(n === 0 ? '{}' : '}'));
      shapes[id] = compileRuns(parts, n);
      if (eventOut + bound(eventEnd - eventBegin) > b.length) throw RESTART;
      return value(b, o);
    }
    if (tag === GOBJ) {
      const n = t[p++]!;
      b[o++] = 0x7b;
      for (let i = 0; i < n; i++) {
        const len = t[p]!;
        if (i > 0) b[o++] = 0x2c;
        o = quoted(b, o, (p + 1) * 2, len);
        b[o++] = 0x3a;
        p += 1 + ((len + 1) >> 1);
        o = value(b, o);
      }
      b[o++] = 0x7d;
      return o;
    }
    if (tag === RAW) {
      const len = t[p]!;
      o = text(b, o, str((p + 1) * 2, len));
      p += 1 + ((len + 1) >> 1);
      return o;
    }
    throw new Error(`tape: unknown value tag ${tag} at word ${p - 1}`);
  }

  /** A number of the envelope at t[p…] (a bare non-negative int32 or a tagged number). */
  function envNumber(): number {
    const tag = t[p++]!;
    if (tag < 0) return ~tag;
    if (tag === INT) return t[p++]!;
    if (tag === DBL) {
      f64i32[0] = t[p++]!;
      f64i32[1] = t[p++]!;
      return f64[0]!;
    }
    throw new Error(`tape: unknown value tag ${tag} at word ${p - 1}`);
  }
  /** The envelope of the last event formatted: what the flags and a time delta refer to. */
  let lastSeq = NaN;
  let lastTime = 0;
  let lastOp = NaN;
  let lastCause: number | null = null;
  /** Bytes written by the compiled runs (`{"seq":`, `,"time":`, …). */
  const seqKey = compileRuns([utf8.encode('{"seq":')], 0);
  const timeKey = compileRuns([utf8.encode(',"time":')], 0);
  const opKey = compileRuns([utf8.encode(',"op":')], 0);
  const causeKey = compileRuns([utf8.encode(',"cause":')], 0);
  const payloadKey = compileRuns([utf8.encode(',"payload":')], 0);

  let eventBegin = 0;
  /** Bytes an event of `words` words can need at most: 14 per word (an escaped string unit is 6 bytes, two per word) plus a key per word. */
  const bound = (words: number): number => words * (14 + maxKey) + 128;

  return {
    frame(bytes, out) {
      t = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
      u = new Uint16Array(bytes.buffer, bytes.byteOffset, (bytes.byteLength >> 2) * 2);
      p = 0;
      let o = held;
      const end = t.length;
      while (p < end) {
        const id = t[p]!;
        if (id === DEF_TYPE) {
          const tid = t[p + 1]!;
          const len = t[p + 2]!;
          const head = utf8.encode(`,"type":${JSON.stringify(str((p + 3) * 2, len))},"v":`);
          types[tid] = compileRuns([head], 0);
          if (head.length > maxKey) maxKey = head.length;
          p += 3 + ((len + 1) >> 1);
          continue;
        }
        const words = t[p + 1]!;
        const flags = id >>> TYPE_BITS;
        const head = types[id & TYPE_MASK];
        if (head === undefined) throw new Error(`tape: event at word ${p} has type id ${id & TYPE_MASK}, never defined`);
        eventBegin = p;
        eventEnd = p + words;
        for (;;) {
          o = room(out, o, bound(words));
          eventOut = o;
          const b = buf;
          try {
            p += 2;
            const w = t[p]!;
            let time: number;
            if (w < 0) {
              time = lastTime + ~w;
              p++;
            } else time = envNumber();
            const op = flags & OP_SAME ? lastOp : envNumber();
            let cause: number | null;
            if (flags & CAUSE_SAME) cause = lastCause;
            else if (t[p] === NULL) {
              cause = null;
              p++;
            } else cause = envNumber();
            const seq = flags & SEQ_NEXT ? lastSeq + 1 : envNumber();
            const v = flags & V_ONE ? 1 : envNumber();
            let q = number(b, seqKey(b, o), seq);
            q = number(b, timeKey(b, q), time);
            q = number(b, opKey(b, q), op);
            q = causeKey(b, q);
            if (cause === null) {
              b[q] = 0x6e; b[q + 1] = 0x75; b[q + 2] = 0x6c; b[q + 3] = 0x6c; // prettier-ignore
              q += 4;
            } else q = number(b, q, cause);
            q = number(b, head(b, q), v);
            q = payloadKey(b, q);
            q = value(b, q);
            b[q] = 0x7d;
            b[q + 1] = 0x0a;
            o = q + 2;
            // Only once the event is done: one redone for a new shape decodes its envelope against the same last one.
            lastSeq = seq;
            lastTime = time;
            lastOp = op;
            lastCause = cause;
            break;
          } catch (err) {
            if (err !== RESTART) throw err;
            // A new shape raised the bound: redo this event from its first word, with room for the new bound.
            p = eventBegin;
          }
        }
        if (p !== eventEnd) throw new Error(`tape: event at word ${eventBegin} ends at ${p}, not at ${eventEnd}`);
      }
      held = offer(out, o);
      if (buf.length > cap * 4 && held <= cap) {
        const next = new Uint8Array(cap);
        next.set(buf.subarray(0, held));
        buf = next;
      }
    },
    raw(bytes, out) {
      const o = room(out, held, bytes.length);
      buf.set(bytes, o);
      held = offer(out, o + bytes.length);
    },
    pending() {
      return buf.subarray(0, held);
    },
  };
}
