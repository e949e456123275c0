/**
 * The pages that list things stay complete: every fault site core checks is on the fault-injection page, every
 * example scenario is in the scenario index, and every line of the run summary is in the glossary. Each test reads
 * the list from its source (core's FAULT_SITES, the scenario directories, the CLI's summary renderer), so adding a
 * site, a scenario or a summary line without documenting it fails here. Cost: a few file reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FAULT_SITES } from '@memhp/core';
import { describe, expect, it } from 'vitest';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const page = (p: string) => readFileSync(join(docsDir, p), 'utf8');

describe('pages that list things', () => {
  it('the fault-injection page has a row for every fault site core checks, with its default errno', () => {
    const text = page('guides/fault-injection.md');
    expect(FAULT_SITES.length).toBeGreaterThan(10);
    const missing = FAULT_SITES.filter((s) => !new RegExp(`^\\| \`${s.site}\` \\|.*\\| -${s.errno} \\|`, 'm').test(text)).map((s) => s.site);
    expect(missing).toEqual([]);
  });

  it('the scenario index links every example scenario', () => {
    const text = page('scenarios.md');
    const files = [
      ...readdirSync(join(repoDir, 'examples/scenarios')).filter((f) => f.endsWith('.yaml')),
      ...readdirSync(join(repoDir, 'examples/arch-riscv64/scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => `examples/arch-riscv64/scenarios/${f}`),
    ];
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter((f) => !text.includes(`[\`${f}\`]`))).toEqual([]);
  });

  it('the glossary explains every line of the run summary', () => {
    const src = readFileSync(join(repoDir, 'packages/cli/src/render/summary-text.ts'), 'utf8');
    const labels = [...src.matchAll(/^\s*\[\s*'([^']+)',/gm)].map((m) => m[1]!);
    expect(labels).toContain('vmemmap mappings');
    const text = page('glossary.md');
    expect(labels.filter((l) => !text.includes(`| \`${l}\``))).toEqual([]);
  });
});
