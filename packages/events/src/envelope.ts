/**
 * The envelope every recorded event travels in. The envelope is deliberately kernel-agnostic: it orders and
 * attributes events (seq, simulated time, command, cause); the payload carries the kernel facts.
 */
export interface EventEnvelope<T extends string = string, P = unknown> {
  /** 1-based, contiguous, assigned by the bus. */
  seq: number;
  /** Simulated time in integer nanoseconds since boot; non-decreasing along a log. */
  time: number;
  /** Operation id: every event of one command shares it (0 = boot). */
  op: number;
  /** seq of the event that caused this one, or null. */
  cause: number | null;
  /** e.g. "section.activate". */
  type: T;
  /** Payload schema version of this type. */
  v: number;
  payload: P;
}

/** What a producer hands the bus; seq is assigned on publish. */
export type EventDraft<T extends string = string, P = unknown> = Omit<EventEnvelope<T, P>, 'seq'>;

/** The envelope's own keys, in the order every serialiser writes them (so logs are byte-deterministic). */
export const ENVELOPE_KEYS = ['seq', 'time', 'op', 'cause', 'type', 'v', 'payload'] as const;

/** Event type names: dotted lower-case words, e.g. "memory_block.state" or "riscv64.pte_alloc". */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/;

/** A non-negative safe integer: what seq, time, op and cause must be so they survive JSON exactly. */
export function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
