/**
 * A worker's chunk stream (read-beside.ts, gunzip.ts's inflateBeside), both sides: the worker sends chunks as its
 * credit allows ({@link Credits}), and the stream on the other side ({@link creditedStream}) gives it more credit as
 * its reader takes them.
 */

/**
 * What a worker sends a stream: a chunk (or several, taken in order: pieces moved as they came rather than copied
 * into one), the end (with whatever the end carries), or an error.
 */
export type StreamMessage =
  | { readonly kind: 'chunk'; readonly chunk: Uint8Array | readonly Uint8Array[] }
  | { readonly kind: 'end' }
  | { readonly kind: 'error'; readonly message: string };

/**
 * The worker side: how many messages each reader (by id) may still be sent, and the waits for more. One worker
 * serves one reader (read.worker.ts) or several (inflate.worker.ts: the load, and the seeks' reads).
 */
export class Credits {
  private readonly credit = new Map<number, number>();
  private readonly wake = new Map<number, () => void>();

  /** Reader `id` starts with `n` credit. */
  open(id: number, n: number): void {
    this.credit.set(id, n);
  }

  /** Reader `id` may be sent `n` more (nothing if it is not open). */
  grant(id: number, n: number): void {
    if (!this.credit.has(id)) return;
    this.credit.set(id, this.credit.get(id)! + n);
    this.wakeUp(id);
  }

  /** Reader `id` is gone: a wait for its credit ends with false. */
  close(id: number): void {
    this.credit.delete(id);
    this.wakeUp(id);
  }

  isOpen(id: number): boolean {
    return this.credit.has(id);
  }

  /** Waits until reader `id` may be sent one more message and takes that credit; false once it is closed. */
  async take(id: number): Promise<boolean> {
    for (;;) {
      const c = this.credit.get(id);
      if (c === undefined) return false;
      if (c > 0) {
        this.credit.set(id, c - 1);
        return true;
      }
      await new Promise<void>((r) => this.wake.set(id, r));
    }
  }

  private wakeUp(id: number): void {
    this.wake.get(id)?.();
    this.wake.delete(id);
  }
}

/** A chunk that is the whole of its buffer: it can be moved (transferred) rather than copied, if nothing else holds it. */
export const ownsBuffer = (c: Uint8Array): boolean => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength;

export interface CreditedStreamOptions<M extends StreamMessage> {
  /** Chunks in flight or queued at most (the credit the worker starts with). */
  readonly window: number;
  /** Credit is given in steps of at least this many chunks (one message each). */
  readonly batch: number;
  /**
   * A chunk's size for the window, in bytes: a message of pieces that add up to this counts as one chunk (without
   * it, each piece is one chunk).
   */
  readonly chunkBytes?: number;
  /** Sends the worker the request (with `window` credit), when the stream starts. */
  readonly open: () => void;
  /** Gives the worker `chunks` more credit. */
  readonly more: (chunks: number) => void;
  /** The worker's end message, before the stream closes. */
  readonly onEnd?: (m: Extract<M, { kind: 'end' }>) => void;
  /** The stream's error for the worker's error message. */
  readonly errorOf?: (message: string) => Error;
  /** The stream's reader cancelled it. */
  readonly cancel: () => void;
}

/** A ReadableStream of the chunks a worker sends, and `take`, to be called with each of the worker's messages. */
export function creditedStream<M extends StreamMessage>(o: CreditedStreamOptions<M>): { stream: ReadableStream<Uint8Array>; take: (m: M) => void } {
  // chunks asked for and not yet here: with the ones queued, never more than the window
  let asked = o.window;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const askMore = (): void => {
    if (closed) return;
    const want = Math.floor(ctl.desiredSize ?? 0) - asked;
    if (want > 0 && want >= o.batch) {
      asked += want;
      o.more(want);
    }
  };
  const take = (m: M): void => {
    if (closed) return;
    if (m.kind === 'chunk') {
      asked--;
      const c = (m as Extract<StreamMessage, { kind: 'chunk' }>).chunk;
      if (c instanceof Uint8Array) ctl.enqueue(c);
      else for (const piece of c) ctl.enqueue(piece);
      askMore();
    } else if (m.kind === 'end') {
      closed = true;
      o.onEnd?.(m as Extract<M, { kind: 'end' }>);
      ctl.close();
    } else {
      closed = true;
      const message = (m as Extract<StreamMessage, { kind: 'error' }>).message;
      ctl.error(o.errorOf ? o.errorOf(message) : new Error(message));
    }
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctl = c;
        o.open();
      },
      pull() {
        askMore();
      },
      cancel() {
        closed = true;
        o.cancel();
      },
    },
    o.chunkBytes ? { highWaterMark: o.window, size: (c: Uint8Array) => c.byteLength / o.chunkBytes! } : new CountQueuingStrategy({ highWaterMark: o.window }),
  );
  return { stream, take };
}
