/**
 * The TypeBox builders memhp's schemas use, as one object with TypeBox's names (`Type.Object`, `Type.Integer` …).
 * TypeBox's own `Type` is a namespace of every builder (Mapped, TemplateLiteral, Extends …): a bundle keeps all of
 * them, and every `memhp` start parses them. Named imports let a bundler keep only these.
 */
import {
  Array as TypeArray,
  Boolean as TypeBoolean,
  Integer,
  Literal,
  Null,
  Number as TypeNumber,
  Object as TypeObject,
  Optional,
  Record as TypeRecord,
  String as TypeString,
  Union,
  Unknown,
} from '@sinclair/typebox';

export const Type = {
  Array: TypeArray,
  Boolean: TypeBoolean,
  Integer,
  Literal,
  Null,
  Number: TypeNumber,
  Object: TypeObject,
  Optional,
  Record: TypeRecord,
  String: TypeString,
  Union,
  Unknown,
} as const;
