import { LogError } from './log-error.js';

/** Lines split from one chunk; line numbers are 1-based and contiguous from `first`. */
export interface LineBatch {
  first: number;
  lines: string[];
}

/**
 * Splits a byte stream into text lines with bounded memory: a partial line is carried across chunks only up to
 * `maxLineBytes`, and a line longer than that is rejected as soon as it is known to be too long, without reading
 * it to its end. Whole runs of lines are decoded with one TextDecoder call and split on '\n' (the fast path
 * measured in TOOLCHAIN.md); only the line that straddles two chunks is assembled from pieces.
 */
export class LineSplitter {
  readonly #file: string;
  readonly #max: number;
  readonly #fatal = new TextDecoder('utf-8', { fatal: true });
  #carry: Uint8Array[] = [];
  #carryBytes = 0;
  /** Number of the next line to complete. */
  #line: number;

  constructor(file: string, maxLineBytes: number, firstLine = 1) {
    this.#file = file;
    this.#max = maxLineBytes;
    this.#line = firstLine;
  }

  /** The line number being read now (for locating stream-level errors such as a corrupt gzip member). */
  get currentLine(): number {
    return this.#line;
  }

  push(chunk: Uint8Array): LineBatch {
    const first = this.#line;
    const lines: string[] = [];
    let start = 0;
    const nl = chunk.indexOf(0x0a);
    if (nl < 0) {
      this.#hold(chunk);
      return { first, lines };
    }
    if (this.#carryBytes > 0) {
      this.#hold(chunk.subarray(0, nl));
      lines.push(this.#decodeLine(concat(this.#carry, this.#carryBytes)));
      this.#carry = [];
      this.#carryBytes = 0;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last >= start) {
      const block = chunk.subarray(start, last);
      let text: string;
      try {
        text = this.#fatal.decode(block);
      } catch {
        text = this.#locateBadUtf8(block, this.#line + lines.length);
      }
      const parts = text.split('\n');
      const base = this.#line + lines.length;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        if (p.length * 3 > this.#max && utf8Length(p) > this.#max) this.#tooLong(base + i);
        lines.push(p);
      }
    }
    this.#line += lines.length;
    if (last + 1 < chunk.length) this.#hold(chunk.subarray(last + 1));
    return { first, lines };
  }

  /**
   * The bytes after the last newline (a last line without '\n', possibly torn), or null. `text` is null when
   * those bytes are not valid UTF-8, which a writer killed inside a multi-byte character leaves behind.
   */
  end(): { line: number; text: string | null } | null {
    if (this.#carryBytes === 0) return null;
    const bytes = concat(this.#carry, this.#carryBytes);
    this.#carry = [];
    this.#carryBytes = 0;
    let text: string | null;
    try {
      text = this.#fatal.decode(bytes);
    } catch {
      text = null;
    }
    return { line: this.#line, text };
  }

  #hold(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#carryBytes += piece.length;
    if (this.#carryBytes > this.#max) this.#tooLong(this.#line);
    // Copy: the caller may reuse the chunk's memory.
    this.#carry.push(piece.slice());
  }

  #tooLong(line: number): never {
    this.#carry = [];
    this.#carryBytes = 0;
    throw new LogError('line-too-long', { file: this.#file, line }, `line is longer than ${this.#max} bytes (maxLineBytes)`);
  }

  #decodeLine(bytes: Uint8Array): string {
    try {
      return this.#fatal.decode(bytes);
    } catch {
      throw new LogError('not-json', { file: this.#file, line: this.#line }, 'line is not valid UTF-8');
    }
  }

  /** A block failed strict decoding: find the first bad line so the error names it. */
  #locateBadUtf8(block: Uint8Array, firstLine: number): never {
    let line = firstLine;
    let s = 0;
    while (s <= block.length) {
      let e = block.indexOf(0x0a, s);
      if (e < 0) e = block.length;
      try {
        this.#fatal.decode(block.subarray(s, e));
      } catch {
        throw new LogError('not-json', { file: this.#file, line }, 'line is not valid UTF-8');
      }
      s = e + 1;
      line++;
    }
    throw new LogError('not-json', { file: this.#file, line: firstLine }, 'text is not valid UTF-8');
  }
}

function concat(pieces: Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
