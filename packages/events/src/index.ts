/**
 * @memhp/events — the event spine of memhp: envelope, catalogue, bus, log format, streaming reader and replay.
 * Isomorphic (Node and browser): file and process I/O live in `@memhp/events/node`.
 */
export type { EventEnvelope, EventDraft } from './envelope.js';
export { ENVELOPE_KEYS, EVENT_TYPE_PATTERN, isCount } from './envelope.js';
export { EventCatalogue, defineEvent, pointerToField, schemaFingerprint } from './catalogue.js';
export { Type } from './type.js';
export type { EventTypeDef, EventPayload, CatalogueIssue, PayloadCheck, PrecompiledChecks, EventCatalogueOptions } from './catalogue.js';
export { EventBus, BusDeliveryError } from './bus.js';
export type { BusSubscriberError, EventBusOptions } from './bus.js';
export { LogHeaderSchema, LOG_FORMAT, LOG_FORMAT_VERSION, HEADER_KEYS, createLogHeader } from './header.js';
export type { LogHeader, LogHeaderInit } from './header.js';
export { LogError, isLogError } from './log-error.js';
export type { LogErrorCode } from './log-error.js';
export { parseHeaderLine, parseEventLine, serializeEvent, serializeHeader } from './line.js';
export type { LineWhere, ParseEventOptions } from './line.js';
export { EventEncoder } from './encoder.js';
export { FORBIDDEN_KEYS, findForbiddenKey } from './safe-json.js';
export { LineSplitter } from './lines.js';
export type { LineBatch } from './lines.js';
export { readLogStream, observeBatches, SourceError, DEFAULT_MAX_LINE_BYTES } from './reader.js';
export type { ReadOptions, LogReader, BatchedLogReader } from './reader.js';
export { replay } from './replay.js';
export type { ReplayOptions, ReplayResult } from './replay.js';
export { logEndEvent, LOG_END_TYPE } from './log-end.js';
