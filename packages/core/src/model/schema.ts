/** TypeBox helpers every module's event vocabulary is written with. */
import { type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import { defineEvent, type EventTypeDef } from '@memhp/events';

/** A union of string literals (the kernel's enumerations: zones, sources, online types …). */
export function lits<const T extends readonly string[]>(...xs: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(xs.map((x) => Type.Literal(x))) as never;
}

/** A version-1 event type. */
export function ev<T extends string, S extends TSchema>(type: T, description: string, schema: S): EventTypeDef<T, S> {
  return defineEvent({ type, version: 1, schema, description });
}
