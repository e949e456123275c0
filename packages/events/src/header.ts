import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

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

export const checkLogHeader = TypeCompiler.Compile(LogHeaderSchema);

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
