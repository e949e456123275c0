import { pointerToField, type EventCatalogue } from './catalogue.js';
import { isCount, type EventEnvelope } from './envelope.js';
import { checkLogHeader, HEADER_KEYS, LOG_FORMAT, LOG_FORMAT_VERSION, LogHeaderSchema, type LogHeader } from './header.js';
import { LogError } from './log-error.js';
import { findForbiddenKey, mayHoldForbiddenKey } from './safe-json.js';

export interface LineWhere {
  file: string;
  line: number;
}

function parseJson(text: string, where: LineWhere, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message : String(e);
    throw new LogError('not-json', where, `${what} is not JSON (${why})`);
  }
  if (mayHoldForbiddenKey(text)) {
    const bad = findForbiddenKey(value);
    if (bad !== null) throw new LogError('forbidden-key', where, 'forbidden key (prototype pollution attempt)', bad);
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse and validate the first line of a log. With a catalogue, the header's schema is checked with the
 * catalogue's ahead-of-time checks when it has them (see EventCatalogueOptions); a failure is located as without.
 */
export function parseHeaderLine(text: string, where: LineWhere, catalogue?: EventCatalogue): LogHeader {
  if (text.length === 0) throw new LogError('missing-header', where, `expected the ${LOG_FORMAT} header, found an empty line`);
  const value = parseJson(text, where, `expected the ${LOG_FORMAT} header; the first line`);
  if (!isPlainObject(value)) throw new LogError('missing-header', where, `expected the ${LOG_FORMAT} header object`);
  if (!('format' in value)) {
    const looksLikeEvent = 'seq' in value && 'type' in value;
    throw new LogError(
      'missing-header',
      where,
      looksLikeEvent ? `the log starts with an event; the ${LOG_FORMAT} header line is missing` : `no "format" key: not a ${LOG_FORMAT} header`,
    );
  }
  if (value.format !== LOG_FORMAT) {
    throw new LogError('foreign-header', where, `format ${JSON.stringify(value.format)} is not ${JSON.stringify(LOG_FORMAT)}`, 'format');
  }
  if (value.formatVersion !== LOG_FORMAT_VERSION) {
    throw new LogError(
      'foreign-header',
      where,
      `unsupported format version ${JSON.stringify(value.formatVersion)} (this reader knows ${LOG_FORMAT_VERSION})`,
      'formatVersion',
    );
  }
  if (catalogue?.schemaCheck(LogHeaderSchema).Check(value)) return value as unknown as LogHeader;
  const check = checkLogHeader();
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const field = first ? pointerToField(first.path) || undefined : undefined;
    throw new LogError('bad-header', where, first ? lowerFirst(first.message) : 'invalid header', field);
  }
  return value as unknown as LogHeader;
}

export interface ParseEventOptions {
  /** Skip upcasting (tools that show a log as recorded). Default false. */
  raw?: boolean;
}

/**
 * Parse, validate and upcast one event line. Throws LogError naming the line and the first bad field.
 * This is the hot path of replay: envelope checks are hand-written, the payload check is TypeBox-compiled.
 */
export function parseEventLine(
  text: string,
  where: LineWhere,
  catalogue: EventCatalogue,
  opts?: ParseEventOptions,
): EventEnvelope {
  const e = parseJson(text, where, 'the line');
  if (!isPlainObject(e)) throw new LogError('bad-envelope', where, 'an event must be a JSON object');
  let keys = 0;
  for (const k in e) {
    keys++;
    if (keys > 7 || !(k === 'seq' || k === 'time' || k === 'op' || k === 'cause' || k === 'type' || k === 'v' || k === 'payload')) {
      if (k === 'format') throw new LogError('bad-envelope', where, 'a second header line inside the log', k);
      throw new LogError('bad-envelope', where, 'unknown envelope key', k);
    }
  }
  const { seq, time, op, cause, type, v } = e;
  if (!isCount(seq) || seq < 1) throw new LogError('bad-envelope', where, `expected a positive integer, got ${show(seq)}`, 'seq');
  if (!isCount(time)) throw new LogError('bad-envelope', where, `expected a non-negative integer (ns), got ${show(time)}`, 'time');
  if (!isCount(op)) throw new LogError('bad-envelope', where, `expected a non-negative integer, got ${show(op)}`, 'op');
  if (cause !== null && !(isCount(cause) && cause >= 1 && cause < seq)) {
    throw new LogError('bad-envelope', where, `expected null or the seq of an earlier event, got ${show(cause)}`, 'cause');
  }
  if (typeof type !== 'string') throw new LogError('bad-envelope', where, `expected a string, got ${show(type)}`, 'type');
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new LogError('bad-envelope', where, `expected a positive integer, got ${show(v)}`, 'v');
  }
  if (!('payload' in e)) throw new LogError('bad-envelope', where, 'missing', 'payload');
  const check = catalogue.compiled(type, v);
  if (check === undefined) {
    if (!catalogue.has(type)) throw new LogError('unknown-type', where, `unknown event type ${JSON.stringify(type)}`, 'type');
    throw new LogError(
      'unknown-version',
      where,
      `unknown version ${v} of ${type} (this catalogue knows ${catalogue.versions(type).join(', ')})`,
      'v',
    );
  }
  if (!check.Check(e.payload)) {
    const issue = catalogue.check(type, v, e.payload)!;
    throw new LogError('bad-payload', where, issue.message, pointerToField(issue.path));
  }
  const env = e as unknown as EventEnvelope;
  if (opts?.raw) return env;
  const latest = catalogue.latest(type)!;
  if (latest.version === v) return env;
  let up: EventEnvelope;
  try {
    up = catalogue.upcast(env);
  } catch (err) {
    throw new LogError('unknown-version', where, `cannot upcast ${type}@${v}: ${err instanceof Error ? err.message : String(err)}`, 'v');
  }
  const issue = catalogue.check(type, up.v, up.payload);
  if (issue) {
    throw new LogError('bad-payload', where, `after upcast to v${up.v}: ${issue.message}`, pointerToField(issue.path));
  }
  return up;
}

/** One line, no newline; keys in envelope order whatever the object's own order, so logs are deterministic. */
export function serializeEvent(e: EventEnvelope): string {
  return `{"seq":${e.seq},"time":${e.time},"op":${e.op},"cause":${e.cause === null ? 'null' : e.cause},"type":${JSON.stringify(e.type)},"v":${e.v},"payload":${JSON.stringify(e.payload) ?? 'null'}}`;
}

/** The header line, no newline, keys in a fixed order. */
export function serializeHeader(h: LogHeader): string {
  const ordered: Record<string, unknown> = {};
  for (const k of HEADER_KEYS) ordered[k] = h[k];
  for (const k of Object.keys(h)) if (!(k in ordered)) ordered[k] = (h as unknown as Record<string, unknown>)[k];
  return JSON.stringify(ordered);
}

function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  const s = JSON.stringify(x);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function lowerFirst(s: string): string {
  return s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s;
}
