/** Keys that could reach or replace a prototype if a consumer ever merged parsed data into an object. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Cheap pre-test on the raw line: a key can only decode to a forbidden name if the line spells it out or
 * uses a \u escape (letters cannot come from any other JSON escape). Most lines skip the walk entirely.
 */
export function mayHoldForbiddenKey(text: string): boolean {
  return text.includes('proto') || text.includes('constructor') || text.includes('\\u');
}

/**
 * Path ('payload.ranges[0].__proto__') of the first forbidden own key anywhere in a parsed JSON value, or null.
 * Iterative, so a hostile, deeply nested line cannot overflow the stack.
 */
export function findForbiddenKey(value: unknown): string | null {
  const stack: Array<{ v: unknown; path: string }> = [{ v: value, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]` });
      continue;
    }
    const keys = Object.keys(v);
    for (const k of keys) {
      const p = path === '' ? k : `${path}.${k}`;
      if (FORBIDDEN_KEYS.has(k)) return p;
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      stack.push({ v: (v as Record<string, unknown>)[k], path: path === '' ? k : `${path}.${k}` });
    }
  }
  return null;
}
