/**
 * The page side of a worker's chunk stream (read-beside.ts, gunzip.ts's inflateBeside): the worker sends chunks
 * as its credit allows, and the stream gives it more credit as its reader takes them.
 */

/** What a worker sends a stream: a chunk, the end (with whatever the end carries), or an error. */
export type StreamMessage = { readonly kind: 'chunk'; readonly chunk: Uint8Array } | { readonly kind: 'end' } | { readonly kind: 'error'; readonly message: string };

export interface CreditedStreamOptions<M extends StreamMessage> {
  /** Chunks in flight or queued at most (the credit the worker starts with). */
  readonly window: number;
  /** Credit is given in steps of at least this many chunks (one message each). */
  readonly batch: number;
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
    const want = (ctl.desiredSize ?? 0) - asked;
    if (want > 0 && want >= o.batch) {
      asked += want;
      o.more(want);
    }
  };
  const take = (m: M): void => {
    if (closed) return;
    if (m.kind === 'chunk') {
      asked--;
      ctl.enqueue((m as Extract<StreamMessage, { kind: 'chunk' }>).chunk);
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
    new CountQueuingStrategy({ highWaterMark: o.window }),
  );
  return { stream, take };
}
