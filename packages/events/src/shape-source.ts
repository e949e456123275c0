/**
 * The opening of a writer compiled for one payload shape (EventEncoder's and TapeEncoder's): the key list, the
 * function header, and the guard that re-checks the shape on every call — plain prototype, no toJSON, and for-in
 * yielding exactly these keys in this order — so an object that merely shares a type is never written with the
 * wrong keys. Keys enter the source only as JSON string literals, which are valid JavaScript string literals, so
 * no key can inject code. The generated function receives `OP` (Object.prototype) from its factory; the caller
 * appends the body and the closing `};`.
 */
export function shapeWriterHead(keys: readonly string[], writerParam: string): string[] {
  return [
    `const K = ${JSON.stringify(keys)};`,
    `return function shape(p, ${writerParam}) {`,
    `  if (Object.getPrototypeOf(p) !== OP || p.toJSON !== undefined) return false;`,
    `  let n = 0;`,
    `  for (const k in p) { if (k !== K[n]) return false; n++; }`,
    `  if (n !== ${keys.length}) return false;`,
  ];
}
