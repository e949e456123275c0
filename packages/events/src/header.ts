import { type Static } from '@sinclair/typebox';
import { Type } from './type.js';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { EventCatalogue } from './catalogue.js';

export const LOG_FORMAT = 'memhp-log';
export const LOG_FORMAT_VERSION = 1;

/** TypeBox schema of the header line; `memhp events --schema` and the docs export it too. */
export const LogHeaderSchema = Type.Object(
  {
    format: Type.Literal(LOG_FORMAT),
    formatVersion: Type.Literal(LOG_FORMAT_VERSION),
    memhpVersion: Type.String(),
    createdAt: Type.String({ description: 'ISO 8601 time the log was created' }),
    kernel: Type.String({ description: 'kernel series, e.g. "6.1"' }),
    machine: Type.Record(Type.String(), Type.Unknown(), {
      description: 'arch id, page size, struct page size, arch constants, nodes, block size …',
    }),
    params: Type.Record(Type.String(), Type.String(), { description: 'parsed cmdline and sysctls' }),
    seed: Type.Integer(),
    events: Type.Array(Type.Object({ type: Type.String(), v: Type.Integer({ minimum: 1 }) }), {
      description: 'the catalogue the log was written with',
    }),
  },
  { additionalProperties: true },
);

/** The header line of a log. */
export interface LogHeader {
  format: 'memhp-log';
  formatVersion: 1;
  memhpVersion: string;
  createdAt: string;
  kernel: string;
  machine: Record<string, unknown>;
  params: Record<string, string>;
  seed: number;
  events: Array<{ type: string; v: number }>;
}

// The interface is written out for readable docs; this keeps it in step with the schema.
type _SameShape = Static<typeof LogHeaderSchema> extends LogHeader ? true : never;
export const _headerShapeCheck: _SameShape = true;

let compiledHeaderCheck: TypeCheck<typeof LogHeaderSchema> | undefined;

/**
 * The compiled check of a header line, built when a log is first read: compiling at module load would cost every
 * process that imports the package (most `memhp` commands read no log), a few ms of its start-up.
 */
export function checkLogHeader(): TypeCheck<typeof LogHeaderSchema> {
  return (compiledHeaderCheck ??= TypeCompiler.Compile(LogHeaderSchema));
}

/** Header keys in the order every log writes them. */
export const HEADER_KEYS = [
  'format',
  'formatVersion',
  'memhpVersion',
  'createdAt',
  'kernel',
  'machine',
  'params',
  'seed',
  'events',
] as const;

export interface LogHeaderInit {
  memhpVersion: string;
  kernel: string;
  machine: Record<string, unknown>;
  params: Record<string, string>;
  seed: number;
  /** The catalogue the run publishes with: every type and version goes into the header's `events` list. */
  catalogue: EventCatalogue;
  /** Defaults to now; pass a fixed time for byte-identical logs across runs. */
  createdAt?: string | Date;
}

/** A complete header: format fields and the catalogue list filled in, keys in the order logs write them. */
export function createLogHeader(init: LogHeaderInit): LogHeader {
  const createdAt = init.createdAt ?? new Date();
  return {
    format: LOG_FORMAT,
    formatVersion: LOG_FORMAT_VERSION,
    memhpVersion: init.memhpVersion,
    createdAt: typeof createdAt === 'string' ? createdAt : createdAt.toISOString(),
    kernel: init.kernel,
    machine: init.machine,
    params: init.params,
    seed: init.seed,
    events: init.catalogue.list().map((d) => ({ type: d.type, v: d.version })),
  };
}
