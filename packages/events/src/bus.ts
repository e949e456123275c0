import { Observable, Subject, Subscriber, Subscription, type Observer } from 'rxjs';
import type { EventCatalogue } from './catalogue.js';
import { isCount, type EventDraft, type EventEnvelope } from './envelope.js';

/** A subscriber threw while an event was being delivered. */
export interface BusSubscriberError {
  subscriber: string;
  error: unknown;
  event: EventEnvelope;
}

/**
 * Thrown by `publish` when a subscriber failed and nobody listens on errors$: the failure must surface somewhere.
 * It is thrown only after the event (and any it caused) reached every other subscriber, so the log stays whole.
 */
export class BusDeliveryError extends Error {
  readonly failures: readonly BusSubscriberError[];
  constructor(failures: readonly BusSubscriberError[]) {
    const f = failures[0]!;
    super(
      `subscriber ${JSON.stringify(f.subscriber)} threw on event #${f.event.seq} (${f.event.type}): ${describe(f.error)}` +
        (failures.length > 1 ? ` (and ${failures.length - 1} more)` : ''),
    );
    this.name = 'BusDeliveryError';
    this.failures = failures;
  }
}

export interface EventBusOptions {
  /** How many recent events `recent()` keeps; 0 (default) keeps none. Always bounded. */
  historyLimit?: number;
  /** When given, every draft's payload is validated against its type@v before it gets a seq. */
  catalogue?: EventCatalogue;
  /** Continue numbering after an existing log: the first publish gets startSeq + 1. */
  startSeq?: number;
  /** Freeze each envelope and its payload so no subscriber can change what others (and the log) see. Default true. */
  freeze?: boolean;
}

interface Listener {
  readonly name: string;
  readonly next: (e: EventEnvelope) => void;
  readonly complete?: () => void;
  active: boolean;
}

/**
 * Synchronous, ordered, exactly-once event bus. Delivery is done by the bus itself rather than by an RxJS
 * Subject so that one subscriber's exception can be attributed by name and can never stop delivery to the rest;
 * events$ is still a plain RxJS Observable for consumers.
 */
export class EventBus {
  readonly #listeners: Listener[] = [];
  #snapshot: readonly Listener[] = [];
  readonly #queue: EventEnvelope[] = [];
  #delivering = false;
  readonly #errors = new Subject<BusSubscriberError>();
  readonly #history: EventEnvelope[] = [];
  readonly #historyLimit: number;
  #historyHead = 0;
  #seq: number;
  #lastTime = 0;
  #completed = false;
  #chains = 0;
  readonly #catalogue: EventCatalogue | undefined;
  readonly #freeze: boolean;

  /** Hot: a late subscriber sees only events published after it subscribed. */
  readonly events$: Observable<EventEnvelope>;
  /** Every subscriber failure, with the subscriber's name and the event it failed on. */
  readonly errors$: Observable<BusSubscriberError> = this.#errors.asObservable();

  constructor(opts: EventBusOptions = {}) {
    const limit = opts.historyLimit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`historyLimit must be a non-negative integer`);
    this.#historyLimit = limit;
    this.#seq = opts.startSeq ?? 0;
    this.#catalogue = opts.catalogue;
    this.#freeze = opts.freeze ?? true;
    this.events$ = new BusObservable((name, next, complete) => {
      const l = this.#add(name ?? `events$ operator chain #${++this.#chains}`, next, complete);
      return () => this.#remove(l);
    });
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** Assign the next seq, deliver synchronously to every subscriber in subscription order, return the envelope. */
  publish<T extends string, P>(draft: EventDraft<T, P>): EventEnvelope<T, P> {
    if (typeof draft !== 'object' || draft === null) throw new TypeError('publish: draft must be an object');
    return this.publishFields(draft.time, draft.op, draft.cause, draft.type, draft.v, draft.payload);
  }

  /**
   * `publish` of a draft given field by field: the same checks and the same envelope, without the draft object a
   * caller would build only for the bus to copy (the simulator publishes every event this way).
   */
  publishFields<T extends string, P>(time: number, op: number, cause: number | null, type: T, v: number, payload: P): EventEnvelope<T, P> {
    if (this.#completed) throw new Error('publish on a completed EventBus');
    this.#validate(time, op, cause, type, v, payload);
    const e: EventEnvelope<T, P> = {
      seq: this.#seq + 1,
      time,
      op,
      cause,
      type,
      v,
      payload: this.#freeze ? deepFreeze(payload) : payload,
    };
    if (this.#freeze) Object.freeze(e);
    this.#seq = e.seq;
    this.#lastTime = time;
    this.#remember(e);
    // A subscriber publishing during delivery only enqueues: everyone gets the current event first.
    if (this.#delivering) this.#queue.push(e);
    else this.#drain(e);
    return e;
  }

  /** Named subscription; an exception in `fn` is reported on errors$ and never reaches other subscribers. */
  on(name: string, fn: (e: EventEnvelope) => void): Subscription {
    const l = this.#add(name, fn);
    return new Subscription(() => this.#remove(l));
  }

  /** Up to `historyLimit` most recent events, oldest first. */
  recent(): readonly EventEnvelope[] {
    const h = this.#history;
    return h.length < this.#historyLimit ? h.slice() : [...h.slice(this.#historyHead), ...h.slice(0, this.#historyHead)];
  }

  complete(): void {
    if (this.#completed) return;
    this.#completed = true;
    for (const l of this.#snapshot) l.complete?.();
    this.#errors.complete();
  }

  #validate(time: number, op: number, cause: number | null, type: string, v: number, payload: unknown): void {
    if (!isCount(time)) throw new TypeError(`publish ${type}: time must be a non-negative safe integer (ns)`);
    if (time < this.#lastTime) {
      throw new RangeError(`publish ${type}: time ${time} goes back from ${this.#lastTime}`);
    }
    if (!isCount(op)) throw new TypeError(`publish ${type}: op must be a non-negative safe integer`);
    if (cause !== null && !(isCount(cause) && cause >= 1 && cause <= this.#seq)) {
      throw new RangeError(`publish ${type}: cause must be null or the seq of an earlier event, got ${String(cause)}`);
    }
    if (typeof type !== 'string' || type.length === 0) throw new TypeError('publish: type must be a string');
    if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`publish ${type}: v must be a positive integer`);
    if (this.#catalogue) {
      const issue = this.#catalogue.check(type, v, payload);
      if (issue) throw new TypeError(`publish ${type}@${v}: ${issue.path}: ${issue.message}`);
    }
  }

  /**
   * Deliver `first`, then whatever subscribers published meanwhile, in order. The queue is touched only when a
   * subscriber published during delivery: the common case (no re-entrant publish) allocates and resizes nothing.
   */
  #drain(first: EventEnvelope): void {
    this.#delivering = true;
    let failures: BusSubscriberError[] | null = null;
    const q = this.#queue;
    try {
      let e = first;
      for (let i = 0; ; i++) {
        const listeners = this.#snapshot;
        for (let j = 0; j < listeners.length; j++) {
          const l = listeners[j]!;
          if (!l.active) continue;
          try {
            l.next(e);
          } catch (error) {
            const f = { subscriber: l.name, error, event: e };
            if (!this.#report(f)) (failures ??= []).push(f);
          }
        }
        if (i >= q.length) break;
        e = q[i]!;
      }
    } finally {
      if (q.length > 0) q.length = 0;
      this.#delivering = false;
    }
    if (failures !== null) throw new BusDeliveryError(failures);
  }

  /** True when someone observed the failure on errors$. */
  #report(f: BusSubscriberError): boolean {
    if (!this.#errors.observed) return false;
    this.#errors.next(f);
    return true;
  }

  #remember(e: EventEnvelope): void {
    const limit = this.#historyLimit;
    if (limit === 0) return;
    if (this.#history.length < limit) {
      this.#history.push(e);
      return;
    }
    this.#history[this.#historyHead] = e;
    this.#historyHead = (this.#historyHead + 1) % limit;
  }

  #add(name: string, next: (e: EventEnvelope) => void, complete?: () => void): Listener {
    const l: Listener = complete ? { name, next, complete, active: true } : { name, next, active: true };
    if (this.#completed) {
      complete?.();
      return l;
    }
    this.#listeners.push(l);
    // Copy-on-write: a subscription made during delivery sees only later events.
    this.#snapshot = this.#listeners.slice();
    return l;
  }

  #remove(l: Listener): void {
    l.active = false;
    const i = this.#listeners.indexOf(l);
    if (i >= 0) {
      this.#listeners.splice(i, 1);
      this.#snapshot = this.#listeners.slice();
    }
  }
}

type Attach = (name: string | undefined, next: (e: EventEnvelope) => void, complete?: () => void) => () => void;

/**
 * events$: a plain callback or observer is attached to the bus directly, so an exception it throws is
 * attributed by name (errors$, or BusDeliveryError) instead of being re-thrown asynchronously by RxJS.
 * Operator chains (`pipe`) subscribe with an RxJS Subscriber and keep RxJS semantics: an error in an operator
 * errors that chain only.
 */
class BusObservable extends Observable<EventEnvelope> {
  readonly #attach: Attach;
  #count = 0;

  constructor(attach: Attach) {
    super((subscriber) => attach(undefined, (e) => subscriber.next(e), () => subscriber.complete()));
    this.#attach = attach;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<EventEnvelope>> | ((value: EventEnvelope) => void) | null,
  ): Subscription {
    if (observerOrNext == null || observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext ?? undefined);
    const name = `events$ subscriber #${++this.#count}`;
    const o = typeof observerOrNext === 'function' ? { next: observerOrNext } : observerOrNext;
    const next = o.next ? o.next.bind(o) : () => {};
    return new Subscription(this.#attach(name, next, o.complete?.bind(o)));
  }
}

/**
 * Freeze a payload and everything it holds. It runs once per event, so it allocates nothing for the plain
 * objects and arrays payloads are made of (Object.keys made an array per object: a sixth of a sweep point's
 * allocation); any other object still goes through Object.keys, so only own properties are followed.
 */
function deepFreeze<P>(x: P): P {
  if (typeof x !== 'object' || x === null || Object.isFrozen(x)) return x;
  Object.freeze(x);
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) freezeValue(x[i]);
    return x;
  }
  const o = x as Record<string, unknown>;
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    // A plain object has no enumerable inherited properties, so for-in visits its own ones, from V8's enum cache.
    for (const k in o) freezeValue(o[k]);
  } else for (const k of Object.keys(o)) freezeValue(o[k]);
  return x;
}

function freezeValue(v: unknown): void {
  if (typeof v === 'object' && v !== null) deepFreeze(v);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
