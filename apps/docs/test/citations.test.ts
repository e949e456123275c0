/**
 * Every citation in the repository resolves inside the repository: a cited page of the docs site exists and has the
 * cited anchor, and nothing cites the notes that were never part of the repository (checked by running
 * scripts/rewrite-citations.mjs --check, which finds every such citation). Cost: one `git ls-files`, one read of
 * each tracked text file and one node process, about a second.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const TEXT = /\.(md|ts|tsx|mts|js|mjs|cjs|vue|ya?ml|json|sh|txt)$/;
const SELF = new Set(['apps/docs/test/citations.test.ts', 'scripts/rewrite-citations.mjs', 'pnpm-lock.yaml']);

/** VitePress's heading slug (@mdit-vue/shared slugify): lower case, punctuation dropped, spaces to dashes. */
function slugify(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036F]/g, '')
    .replace(/[\s~`!@#$%^&*()\-_+=[\]{}|\\;:"'“”‘’<>,.?/]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/^(\d)/, '_$1')
    .toLowerCase();
}

const anchorCache = new Map<string, Set<string>>();
/** The anchors a site page has: explicit `{#id}` on headings, else the slug of the heading text. */
export function anchorsOf(file: string): Set<string> {
  let set = anchorCache.get(file);
  if (set) return set;
  set = new Set();
  let fence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const h = /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (!h) continue;
    const explicit = /\{#([\w-]+)\}\s*$/.exec(h[1]!);
    set.add(explicit ? explicit[1]! : slugify(h[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '')));
  }
  for (const m of readFileSync(file, 'utf8').matchAll(/<a id="([\w-]+)"/g)) set.add(m[1]!);
  anchorCache.set(file, set);
  return set;
}

interface Citation {
  from: string;
  line: number;
  page: string; // absolute path of the cited .md file
  anchor: string;
  text: string;
}

/** Finds citations of docs pages with an anchor, in the three forms scripts/rewrite-citations.mjs writes. */
export function citationsIn(file: string, text: string): Citation[] {
  const out: Citation[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const add = (page: string, anchor: string, t: string) => out.push({ from: file, line: i + 1, page, anchor, text: t });
    // 1. a repository path, possibly relative ("../../apps/docs/kernel/hotplug.md#add-steps")
    for (const m of line.matchAll(/((?:\.\.\/)*)apps\/docs\/([\w./-]+?)\.md#([\w-]+)/g)) {
      const page = m[1] ? resolve(dirname(join(repoDir, file)), `${m[1]}apps/docs/${m[2]}.md`) : join(repoDir, 'apps/docs', `${m[2]}.md`);
      add(page, m[3]!, m[0]);
    }
    if (!file.startsWith('apps/docs/') || !file.endsWith('.md')) return;
    // 2. a site link: [text](/kernel/hotplug#add-steps), or (/kernel/#sources)
    for (const m of line.matchAll(/\]\(\/([\w/-]*)#([\w-]+)\)/g)) {
      const p = m[1]!.endsWith('/') || m[1] === '' ? `${m[1]}index` : m[1]!;
      add(join(docsDir, `${p}.md`), m[2]!, m[0]);
    }
    // 3. raw HTML: <a href="/kernel/hotplug.html#add-steps">
    for (const m of line.matchAll(/href="\/([\w/-]+)\.html#([\w-]+)"/g)) add(join(docsDir, `${m[1]}.md`), m[2]!, m[0]);
  });
  return out;
}

function trackedTextFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoDir, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && TEXT.test(f) && !SELF.has(f) && existsSync(join(repoDir, f)));
}

describe('citations', () => {
  it('the section table points at pages and anchors that exist', () => {
    const table = JSON.parse(readFileSync(join(docsDir, 'kernel/citations.json'), 'utf8')) as {
      sections: Record<string, [string, string, string]>;
      architecture: Record<string, [string, string, string]>;
    };
    const entries = [...Object.entries(table.sections), ...Object.entries(table.architecture)];
    expect(entries.length).toBeGreaterThan(70);
    const missing = entries
      .filter(([, [page, anchor]]) => !existsSync(join(docsDir, `${page}.md`)) || !anchorsOf(join(docsDir, `${page}.md`)).has(anchor))
      .map(([k, [page, anchor]]) => `${k} → ${page}#${anchor}`);
    expect(missing).toEqual([]);
  });

  it('every cited page and anchor in pages, READMEs, code and tests exists', () => {
    const all: Citation[] = [];
    for (const f of trackedTextFiles()) all.push(...citationsIn(f, readFileSync(join(repoDir, f), 'utf8')));
    // The kernel reference is cited from code, tests, scenarios and pages (hundreds of citations once rewritten).
    expect(all.length).toBeGreaterThan(20);
    const broken = all
      .filter((c) => !existsSync(c.page) || !anchorsOf(c.page).has(c.anchor))
      .map((c) => `${c.from}:${c.line}: ${c.text} (${existsSync(c.page) ? 'no such anchor' : `no page ${relative(repoDir, c.page)}`})`);
    expect(broken).toEqual([]);
  });

  it('nothing cites a document outside the repository (DOMAIN.md, ARCHITECTURE.md, a bare section number)', () => {
    const r = spawnSync(process.execPath, [join(repoDir, 'scripts/rewrite-citations.mjs'), '--check'], { cwd: repoDir, encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('would rewrite 0 file(s)');
    expect(r.status).toBe(0);
  });

  it('finds a broken anchor and a missing page (the check itself)', () => {
    const found = citationsIn('packages/x/src/a.ts', '// apps/docs/kernel/hotplug.md#add-steps and apps/docs/kernel/hotplug.md#no-such-step and apps/docs/kernel/nope.md#x');
    expect(found.map((c) => existsSync(c.page) && anchorsOf(c.page).has(c.anchor))).toEqual([true, false, false]);
    const site = citationsIn('apps/docs/guides/x.md', 'see [steps](/kernel/hotplug#add-steps), <a href="/kernel/sparse.html#section-flags">flags</a>, [ix](/kernel/#sources)');
    expect(site.map((c) => [relative(docsDir, c.page), c.anchor, anchorsOf(c.page).has(c.anchor)])).toEqual([
      ['kernel/hotplug.md', 'add-steps', true],
      ['kernel/index.md', 'sources', true],
      ['kernel/sparse.md', 'section-flags', true],
    ]);
  });
});
