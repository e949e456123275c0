#!/usr/bin/env node
// Rewrites citations of the two notes that never were in the repository — the team's kernel notes
// ("DOMAIN.md §4.2", or a bare "§4.2") and the architecture note ("ARCHITECTURE.md, Users") — into links to the
// pages that now hold those facts inside the repository: the kernel reference (apps/docs/kernel/) and the design
// page (apps/docs/concepts/design.md). The section → page#anchor table is apps/docs/kernel/citations.json.
//
// How a citation is written depends on where it is:
//   site pages (apps/docs/**/*.md)   [link text](/kernel/hotplug#add-steps), or <a href="/kernel/hotplug.html#add-steps">
//                                    on lines of raw HTML/SVG
//   other Markdown (READMEs …)       [link text](../../apps/docs/kernel/hotplug.md#add-steps) (relative to the file)
//   code, tests, scenarios, fences   apps/docs/kernel/hotplug.md#add-steps
//
// Idempotent: a rewritten file has nothing left to match, so running it again changes nothing.
// Usage: node scripts/rewrite-citations.mjs [--check] [file …]
//   (no files: every file git tracks; --check: change nothing, list what would change, exit 1 if anything would)
// Exit 2 when a citation names a section the table does not know (the file and line are printed).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TABLE_PATH = 'apps/docs/kernel/citations.json';
const table = JSON.parse(readFileSync(join(root, TABLE_PATH), 'utf8'));

/** Files that mention the old names on purpose: the table, this script and the test that checks the result. */
const SKIP = new Set([TABLE_PATH, 'scripts/rewrite-citations.mjs', 'apps/docs/test/citations.test.ts', 'pnpm-lock.yaml']);
const TEXT = /\.(md|ts|tsx|mts|js|mjs|cjs|vue|ya?ml|json|sh|txt)$/;

const NUM = String.raw`(\d+(?:\.\d+)*)`;
// A bare § that belongs to another document ("README §4") is left alone.
const NOT_OTHER_DOC = String.raw`(?<!README(?:\.md)? )(?<!CONTRIBUTING(?:\.md)? )`;
const RANGE = new RegExp(`${NOT_OTHER_DOC}§${NUM}\\s*[–—]\\s*§?${NUM}`, 'g');
const SINGLE = new RegExp(`${NOT_OTHER_DOC}§${NUM}`, 'g');
const ARCH = /ARCHITECTURE(?:\.md)?(?:(?:,\s*|\s+)"?(Users|Contracts|Determinism|Logs are self-contained)"?)?(?![\w-])/g;

const problems = [];

/** The [page, anchor, text] for a section number; a sub-item the table lacks falls back to its parent. */
function lookup(num) {
  for (let n = num; n; n = n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : '') {
    if (table.sections[n]) return table.sections[n];
  }
  return undefined;
}

function kindOf(file) {
  if (!file.endsWith('.md')) return 'code';
  if (file.startsWith('.changeset/')) return 'code'; // becomes CHANGELOG text, where relative links break
  if (file.startsWith('apps/docs/')) return 'site';
  return 'md';
}

/** Formats one target for the file and line it lands in. */
function format(file, kind, inFence, line, [page, anchor, text]) {
  if (kind === 'code' || inFence) return `apps/docs/${page}.md#${anchor}`;
  if (kind === 'site') {
    if (/^\s*</.test(line) || /<(text|figcaption|td|th|li|p)\b/.test(line)) return `<a href="/${page}.html#${anchor}">${text}</a>`;
    return `[${text}](/${page}#${anchor})`;
  }
  const rel = relative(dirname(join(root, file)), join(root, 'apps/docs', `${page}.md`)).split('\\').join('/');
  return `[${text}](${rel}#${anchor})`;
}

function rewriteLine(file, kind, inFence, line, lineNo) {
  const ref = (num) => {
    const t = lookup(num);
    if (!t) {
      problems.push(`${file}:${lineNo}: §${num} is not in ${TABLE_PATH}`);
      return `§${num}`;
    }
    return format(file, kind, inFence, line, t);
  };
  const prose = kind !== 'code' && !inFence;
  let out = line;
  // "§3 of DOMAIN.md" → "§3"; "DOMAIN.md §3" → "§3" (prose keeps a word saying what the link is).
  out = out.replace(new RegExp(`§${NUM} of (?:shared/)?DOMAIN\\.md`, 'g'), (_m, n) => `${prose ? 'kernel reference ' : ''}§${n}`);
  out = out.replace(/`?(?:shared\/)?DOMAIN\.md`?[ \t]*(?=§\d)/g, prose ? 'kernel reference ' : '');
  // Any other mention of the notes as a whole.
  out = out.replace(/`?(?:shared\/)?DOMAIN\.md`?/g, () => {
    const t = table.sections['0'];
    return prose ? `the ${format(file, kind, inFence, line, t)}` : `the kernel reference (apps/docs/kernel/)`;
  });
  out = out.replace(ARCH, (_m, part) => {
    const t = table.architecture[part ?? ''];
    return format(file, kind, inFence, line, t);
  });
  out = out.replace(/(§\d+(?:\.\d+)*)\s*\/\s*(?=§\d)/g, '$1, '); // "§9.2/§7" → two citations
  out = out.replace(RANGE, (_m, a, b) => `${ref(a)} to ${ref(b)}`);
  out = out.replace(SINGLE, (_m, n) => ref(n));
  return out;
}

export function rewrite(file, text) {
  const kind = kindOf(file);
  let inFence = false;
  return text
    .split('\n')
    .map((line, i) => {
      if (kind !== 'code' && /^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return line;
      }
      if (!/§\d|DOMAIN\.md|ARCHITECTURE/.test(line)) return line;
      return rewriteLine(file, kind, inFence, line, i + 1);
    })
    .join('\n');
}

function trackedFiles() {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && TEXT.test(f) && !SKIP.has(f));
}

const argv = process.argv.slice(2);
const check = argv.includes('--check');
const files = argv.filter((a) => a !== '--check').map((f) => relative(root, resolve(f)));
const changed = [];
for (const file of files.length ? files : trackedFiles()) {
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    continue; // deleted in the working tree
  }
  const next = rewrite(file, text);
  if (next === text) continue;
  changed.push(file);
  if (!check) writeFileSync(join(root, file), next);
}
for (const p of problems) console.error(p);
console.log(`${check ? 'would rewrite' : 'rewrote'} ${changed.length} file(s)${changed.length ? ':\n  ' + changed.join('\n  ') : ''}`);
process.exit(problems.length ? 2 : check && changed.length ? 1 : 0);
