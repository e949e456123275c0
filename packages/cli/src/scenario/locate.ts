/**
 * Map a value path inside a parsed YAML document back to file:line:column, so every scenario error names
 * where it is. Uses the `yaml` package's node ranges and a LineCounter.
 */
import { isMap, isSeq, isPair, isScalar, type Document, type LineCounter, type Node as YNode } from 'yaml';

export type PathSeg = string | number;

export interface Pos {
  readonly line: number;
  readonly column: number;
}

/** `['steps', 3, 'online', 'blocks']` → `steps[3].online.blocks`. */
export function fieldPath(path: readonly PathSeg[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** `/steps/3/online` (JSON pointer, as TypeBox reports it) → path segments; numeric segments become indexes. */
export function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * Position of the value at `path`; if it does not exist (a missing property), the position of the deepest
 * existing ancestor. With `preferKey`, a map entry's key position (for "unexpected property").
 */
export function positionOf(doc: Document, lc: LineCounter, path: readonly PathSeg[], preferKey = false): Pos | undefined {
  let node: unknown = doc.contents;
  let best: YNode | null = (doc.contents as YNode | null) ?? null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      if (preferKey && i === path.length - 1 && isScalar(pair.key)) {
        best = pair.key;
        break;
      }
      node = pair.value;
      if (node && typeof node === 'object' && 'range' in node) best = node as YNode;
      else if (isScalar(pair.key)) best = pair.key; // `key:` with no value
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      node = item;
      if (typeof item === 'object' && item !== null && 'range' in item) best = item as YNode;
    } else break;
  }
  const off = best?.range?.[0];
  if (off === undefined) return undefined;
  const p = lc.linePos(off);
  return { line: p.line, column: p.col };
}
