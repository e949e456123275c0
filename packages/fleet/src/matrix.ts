/**
 * Sweep files: a scenario with a top-level `matrix:`, expanded the way GitHub Actions expands a job matrix —
 * the cartesian product of the axes (first axis outermost), then `exclude` (an entry removes every combination
 * it matches on all of its keys), then `include` (an entry extends every combination it does not contradict on
 * an original axis, else it becomes a combination of its own). `${{ matrix.NAME }}` in any string of the
 * scenario is replaced by the value: a string that is only the expression takes the value's own type.
 *
 * Each point gets a stable id, a hash of its resolved scenario (so renaming a label or reordering axes keeps
 * ids, and two points that resolve to the same scenario are reported), and a readable label.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { FleetInputError, type FleetLocation } from './errors.js';

export type MatrixValue = string | number | boolean | null | { readonly [k: string]: MatrixValue } | readonly MatrixValue[];
export type Combination = Readonly<Record<string, MatrixValue>>;

export interface SweepPoint {
  /** Position in the expansion order: results are written in this order whatever ran first. */
  readonly index: number;
  /** First 16 hex digits of sha256 over the resolved scenario's canonical JSON. */
  readonly id: string;
  /** `kernel=6.1 size=12G`: the combination, in axis order. */
  readonly label: string;
  readonly params: Combination;
  /** The scenario with every matrix placeholder (dollar sign, double braces, matrix.NAME) replaced (plain JSON data, no `matrix:` key). */
  readonly scenario: unknown;
}

export interface Sweep {
  readonly file: string;
  /** Axis names, in order, then keys only `include` brought in. */
  readonly keys: readonly string[];
  readonly points: readonly SweepPoint[];
  /** Locate a field of the scenario part in the sweep file (for errors found later, e.g. by the scenario loader). */
  locate(path: readonly (string | number)[]): FleetLocation;
}

const EXPR = /\$\{\{\s*matrix\.([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}/g;
const WHOLE = /^\$\{\{\s*matrix\.([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}$/;

export function loadSweepFile(file: string): Sweep {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FleetInputError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read: ${(e as Error).message}`, { file });
  }
  return parseSweep(file, text);
}

export function parseSweep(file: string, text: string): Sweep {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const err = doc.errors[0];
  if (err) {
    const p = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
    throw new FleetInputError(`YAML syntax: ${err.message.split('\n')[0]}`, { file, line: p.line, column: p.col });
  }
  const where = (path: readonly (string | number)[], key = false): FleetLocation => locateIn(file, doc, lc, path, key);
  const fail = (path: readonly (string | number)[], msg: string, key = false): never => {
    throw new FleetInputError(msg, where(path, key));
  };
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!isRecord(data)) return fail([], 'a sweep file is a scenario (memhp: 1, machine:, steps:) with a matrix: mapping');
  if (data.matrix === undefined) fail([], 'no matrix: — a sweep file is a scenario plus a matrix: of values (run a plain scenario with memhp run)');
  const m = data.matrix;
  if (!isRecord(m)) return fail(['matrix'], 'matrix: is a mapping of axis names to lists of values (plus include: and exclude:)');

  const axes: Array<[string, MatrixValue[]]> = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'include' || k === 'exclude') continue;
    if (!/^[A-Za-z_][\w-]*$/.test(k)) fail(['matrix', k], `axis name "${k}" must start with a letter or _ and hold only letters, digits, _ and -`, true);
    if (!Array.isArray(v)) fail(['matrix', k], `axis ${k} is a list of values, e.g. ${k}: [a, b]`);
    if ((v as unknown[]).length === 0) fail(['matrix', k], `axis ${k} has no values`);
    axes.push([k, v as MatrixValue[]]);
  }
  const list = (name: 'include' | 'exclude'): Combination[] => {
    const l = m[name];
    if (l === undefined) return [];
    if (!Array.isArray(l)) return fail(['matrix', name], `${name}: is a list of mappings`);
    return l.map((x, i) => (isRecord(x) && Object.keys(x).length > 0 ? (x as Combination) : fail(['matrix', name, i], `each ${name} entry is a non-empty mapping of axis names to values`)));
  };
  const include = list('include');
  const exclude = list('exclude');
  if (axes.length === 0 && include.length === 0) fail(['matrix'], 'matrix: has no axes and no include: entries');

  const axisNames = new Set(axes.map(([k]) => k));
  exclude.forEach((x, i) => {
    for (const k of Object.keys(x)) if (!axisNames.has(k)) fail(['matrix', 'exclude', i, k], `exclude names "${k}", which is not an axis (axes: ${[...axisNames].join(', ') || 'none'})`, true);
  });

  // Cartesian product, first axis outermost; then exclude; then include (GitHub Actions' order).
  let combos: Array<Record<string, MatrixValue>> = axes.length ? [{}] : [];
  for (const [k, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  combos = combos.filter((c) => !exclude.some((x) => Object.entries(x).every(([k, v]) => deepEqual(c[k], v))));
  const originals = combos.map((c) => ({ ...c }));
  for (const inc of include) {
    let added = false;
    combos.forEach((c, i) => {
      const orig = originals[i]!;
      if (Object.entries(inc).every(([k, v]) => !(k in orig) || deepEqual(orig[k], v))) {
        Object.assign(c, inc);
        added = true;
      }
    });
    if (!added) {
      combos.push({ ...inc });
      originals.push({ ...inc });
    }
  }
  if (combos.length === 0) fail(['matrix', 'exclude'], 'the matrix is empty: exclude removed every combination');

  const keys: string[] = axes.map(([k]) => k);
  for (const c of combos) for (const k of Object.keys(c)) if (!keys.includes(k)) keys.push(k);

  const base = { ...data };
  delete base.matrix;
  const used = new Set<string>();
  const points: SweepPoint[] = [];
  const byId = new Map<string, number>();
  combos.forEach((params, index) => {
    const scenario = substitute(base, params, [], (path, name) => fail(path, `\${{ matrix.${name} }}: no such matrix value in this combination (keys: ${Object.keys(params).join(', ')})`), used);
    const id = pointId(scenario);
    const label = keys.filter((k) => k in params).map((k) => `${k}=${labelValue(params[k]!)}`).join(' ');
    const dup = byId.get(id);
    if (dup !== undefined) fail(['matrix'], `points ${dup + 1} (${points[dup]!.label}) and ${index + 1} (${label}) resolve to the same scenario; use every axis in the scenario`);
    byId.set(id, index);
    points.push({ index, id, label, params, scenario });
  });
  for (const [k] of axes) if (!used.has(k)) fail(['matrix', k], `axis ${k} is not used: write \${{ matrix.${k} }} where its value goes`, true);
  return { file, keys, points, locate: (path) => where(path) };
}

function substitute(v: unknown, params: Combination, path: (string | number)[], missing: (path: (string | number)[], name: string) => never, used: Set<string>): unknown {
  if (typeof v === 'string') {
    const lookup = (name: string): MatrixValue => {
      const [head, ...rest] = name.split('.');
      used.add(head!);
      let cur: MatrixValue | undefined = params[head!];
      for (const r of rest) cur = isRecord(cur) ? (cur as Record<string, MatrixValue>)[r] : undefined;
      return cur === undefined ? missing(path, name) : cur;
    };
    const whole = WHOLE.exec(v);
    if (whole) return lookup(whole[1]!);
    return v.replace(EXPR, (_, name: string) => {
      const x = lookup(name);
      return typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x);
    });
  }
  if (Array.isArray(v)) return v.map((x, i) => substitute(x, params, [...path, i], missing, used));
  if (isRecord(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substitute(x, params, [...path, k], missing, used);
    return o;
  }
  return v;
}

/** sha256 of the canonical JSON (keys sorted) of a resolved scenario, first 16 hex digits. */
export function pointId(scenario: unknown): string {
  return createHash('sha256').update(canonicalJson(scenario)).digest('hex').slice(0, 16);
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isRecord(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const labelValue = (v: MatrixValue): string => (typeof v === 'object' && v !== null ? canonicalJson(v) : String(v));

function deepEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fieldPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function locateIn(file: string, doc: Document, lc: LineCounter, path: readonly (string | number)[], key: boolean): FleetLocation {
  // Walk down as far as the document goes: an error inside a value that was substituted still lands on the
  // nearest line the user wrote.
  let node: unknown = doc.contents;
  let at: Node | undefined = doc.contents ?? undefined;
  let keyNode: Node | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
      if (pair.value) at = pair.value as Node;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      keyNode = undefined;
      node = item;
      at = item as Node;
    } else break;
  }
  const target = key && keyNode ? keyNode : at;
  const range = target?.range;
  const pos = range ? lc.linePos(range[0]) : undefined;
  return { file, ...(pos ? { line: pos.line, column: pos.col } : {}), ...(path.length ? { field: fieldPath(path) } : {}) };
}
