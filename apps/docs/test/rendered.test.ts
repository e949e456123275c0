/**
 * Every page of the site renders. VitePress logs a page whose server-side render throws (a Vue expression in
 * inline code, a component that fails) and still writes it, with an empty article and a "build complete"; this
 * reads the built site and names every page whose article is empty. Cost: the site build the browser test needs
 * anyway (skipped when a fresh one exists), then ~60 file reads.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureSiteBuilt } from './site-build.js';

const docsDir = resolve(import.meta.dirname, '..');
const dist = join(docsDir, '.vitepress/dist');
const SKIP = new Set(['node_modules', '.vitepress', 'test', 'test-results', '.doc-test', 'public', 'scripts', 'bench', 'viewer']);

function pages(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...pages(p));
    else if (e.name.endsWith('.md')) out.push(relative(docsDir, p));
  }
  return out.sort();
}

/** The text inside the page's article (`<div class="vp-doc …">`), tags removed. */
function articleText(html: string): string | null {
  const start = html.search(/<div [^>]*class="vp-doc [^"]*"[^>]*>/);
  if (start < 0) return null;
  const end = html.indexOf('</main>', start);
  return html
    .slice(start, end < 0 ? undefined : end)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('the built site', () => {
  beforeAll(() => ensureSiteBuilt(), 600_000);

  it('renders every page with its article (no page left empty by a render error)', () => {
    const sources = pages(docsDir);
    expect(sources.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const md of sources) {
      const html = join(dist, md.replace(/\.md$/, '.html'));
      if (!existsSync(html)) {
        empty.push(`${md}: not built`);
        continue;
      }
      const text = articleText(readFileSync(html, 'utf8'));
      // The home page (layout: home) has no article; every other page has one, and a failed render leaves it empty.
      if (text === null && md === 'index.md') continue;
      if (text === null || text.length === 0) empty.push(`${md}: empty article`);
    }
    expect(empty).toEqual([]);
  });
});
