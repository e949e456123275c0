/**
 * Generates the reference pages of the site from the code, so nothing is written twice:
 *   reference/cli.md       from @memhp/cli's createProgram() (commander's commands, options and help text)
 *   reference/events.md    from @memhp/core's createCoreCatalogue().jsonSchemas()
 *   reference/scenario.md  from @memhp/cli's scenarioSchema (or packages/cli/schema/scenario.schema.json)
 *   reference/api/         TypeDoc + typedoc-plugin-markdown, entry points derived from each package's `exports`
 *
 * A source that does not exist yet gets a visible "not yet available" page instead of failing the build, and
 * the overview page says which sources were used. Run by `pnpm --filter @memhp/docs build` before VitePress.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypeDocOptions } from 'typedoc';

const docsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(docsDir, '../..');
const refDir = join(docsDir, 'reference');

type SourceStatus = { page: string; source: string; available: boolean; note: string };
const status: SourceStatus[] = [];

function write(rel: string, text: string): void {
  const p = join(refDir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text.endsWith('\n') ? text : text + '\n');
}

/** Markdown table cells must not contain raw pipes or newlines; Vue must not see mustaches. */
function cell(s: unknown): string {
  return String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ')
    .replace(/{{/g, '&#123;&#123;')
    .replace(/</g, '&lt;');
}

/** Inside a code span only pipes need escaping (VitePress escapes the rest for Vue). */
function code(s: unknown): string {
  return '`' + String(s ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ') + '`';
}

function notYet(rel: string, title: string, source: string, why: string): void {
  write(
    rel,
    [
      `# ${title}`,
      '',
      '::: warning Not yet available',
      `This page is generated from \`${source}\`, which is not available in this build: ${cell(why)}.`,
      'It will appear here as soon as that source exists; nothing on this page is written by hand.',
      ':::',
    ].join('\n'),
  );
  status.push({ page: rel, source, available: false, note: why });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

async function tryImport(spec: string): Promise<Record<string, unknown> | string> {
  try {
    return (await import(spec)) as Record<string, unknown>;
  } catch (e) {
    return `cannot import ${spec} (${errorText(e)})`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------

/** The parts of commander's Command and Option the generator reads (commander 14). */
interface CmdLike {
  name(): string;
  description(): string;
  aliases?(): string[];
  usage(): string;
  commands: readonly CmdLike[];
  options: ReadonlyArray<{ flags: string; description: string; defaultValue?: unknown; argChoices?: string[]; hidden?: boolean; mandatory?: boolean }>;
  registeredArguments?: ReadonlyArray<{ name(): string; description: string; required: boolean; variadic: boolean }>;
  helpInformation(): string;
  parent?: CmdLike | null;
  _hidden?: boolean;
}

function cmdPath(c: CmdLike): string {
  const parts: string[] = [];
  for (let x: CmdLike | null | undefined = c; x; x = x.parent) parts.unshift(x.name());
  return parts.join(' ');
}

function renderCommand(c: CmdLike, depth: number, out: string[]): void {
  const path = cmdPath(c);
  out.push(`${'#'.repeat(Math.min(depth, 4))} \`${path}\``, '');
  if (c.description()) out.push(cell(c.description()), '');
  const args = c.registeredArguments ?? [];
  if (args.length) {
    out.push('| argument | required | description |', '|---|---|---|');
    for (const a of args) out.push(`| ${code(a.name() + (a.variadic ? '…' : ''))} | ${a.required ? 'yes' : 'no'} | ${cell(a.description)} |`);
    out.push('');
  }
  const opts = c.options.filter((o) => !o.hidden);
  if (opts.length) {
    out.push('| option | description | default |', '|---|---|---|');
    for (const o of opts) {
      const choices = o.argChoices?.length ? ` (one of: ${o.argChoices.join(', ')})` : '';
      const def = o.defaultValue === undefined ? '' : `\`${cell(JSON.stringify(o.defaultValue))}\``;
      out.push(`| ${code(o.flags)} | ${cell(o.description)}${cell(choices)} | ${def} |`);
    }
    out.push('');
  }
  out.push('```text', c.helpInformation().trimEnd(), '```', '');
  for (const sub of c.commands) if (!sub._hidden) renderCommand(sub, depth + 1, out);
}

async function genCli(cli: Record<string, unknown> | string): Promise<void> {
  const title = 'The memhp command';
  if (typeof cli === 'string') return notYet('cli.md', title, '@memhp/cli createProgram()', cli);
  const createProgram = cli.createProgram;
  if (typeof createProgram !== 'function') return notYet('cli.md', title, '@memhp/cli createProgram()', '@memhp/cli does not export createProgram() yet');
  const program = (await createProgram()) as CmdLike;
  const out: string[] = [
    `# ${title}`,
    '',
    '<!-- generated by apps/docs/scripts/gen-reference.ts from @memhp/cli createProgram(); do not edit -->',
    '',
    'Every command, option and help text below is read from the CLI\'s own command definitions.',
    '',
  ];
  renderCommand(program, 2, out);
  write('cli.md', out.join('\n'));
  status.push({ page: 'cli.md', source: '@memhp/cli createProgram()', available: true, note: `${program.commands.length} commands` });
}

// ---------------------------------------------------------------------------------------------------------
// Event catalogue
// ---------------------------------------------------------------------------------------------------------

type JsonSchema = {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  $ref?: string;
  additionalProperties?: boolean | JsonSchema;
  [k: string]: unknown;
};

/** A short human rendering of a JSON Schema type. */
function typeOf(s: JsonSchema | undefined): string {
  if (!s) return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.$ref) return s.$ref.replace(/^#\/(definitions|\$defs)\//, '');
  if (s.type === 'array') return `${typeOf(s.items)}[]`;
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  const extra: string[] = [];
  if (s.pattern) extra.push(`pattern \`${s.pattern}\``);
  if (s.minimum !== undefined) extra.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) extra.push(`≤ ${s.maximum}`);
  return extra.length ? `${t} (${extra.join(', ')})` : t;
}

/** Flatten nested object properties into dotted rows: `range.startPfn`. */
function fieldRows(s: JsonSchema, prefix: string, rows: string[][]): void {
  const req = new Set(s.required ?? []);
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const name = prefix ? `${prefix}.${k}` : k;
    rows.push([name, typeOf(v), req.has(k) ? 'yes' : 'no', v.description ?? '']);
    if (v.type === 'object' && v.properties) fieldRows(v, name, rows);
    if (v.type === 'array' && v.items?.type === 'object' && v.items.properties) fieldRows(v.items, `${name}[]`, rows);
  }
}

function genEvents(core: Record<string, unknown> | string): void {
  const title = 'Event catalogue';
  const src = '@memhp/core createCoreCatalogue().jsonSchemas()';
  if (typeof core === 'string') return notYet('events.md', title, src, core);
  if (typeof core.createCoreCatalogue !== 'function') return notYet('events.md', title, src, '@memhp/core does not export createCoreCatalogue() yet');
  const cat = (core.createCoreCatalogue as () => { jsonSchemas(): Array<{ type: string; version: number; description: string; schema: object }> })();
  const schemas = [...cat.jsonSchemas()].sort((a, b) => a.type.localeCompare(b.type) || a.version - b.version);
  const out: string[] = [
    `# ${title}`,
    '',
    `<!-- generated by apps/docs/scripts/gen-reference.ts from ${src}; do not edit -->`,
    '',
    'Every event a log can contain, with its payload schema version. The envelope fields are the same for all of',
    'them: `seq` (1-based, contiguous), `time` (simulated ns since boot), `op` (operation id), `cause` (seq of the',
    'causing event or null), `type`, `v` (payload version) and `payload`. Physical and vmemmap addresses are hex',
    'strings; pfns and page counts are integers. Older versions of a type are upcast on read.',
    '',
    `${schemas.length} event types.`,
    '',
    '| type | v | description |',
    '|---|---|---|',
    ...schemas.map((s) => `| [\`${s.type}\`](#${anchor(s.type, s.version)}) | ${s.version} | ${cell(s.description)} |`),
    '',
  ];
  for (const s of schemas) {
    out.push(`## ${s.type} v${s.version} {#${anchor(s.type, s.version)}}`, '', cell(s.description), '');
    const rows: string[][] = [];
    fieldRows(s.schema as JsonSchema, '', rows);
    if (rows.length) {
      out.push('| field | type | required | description |', '|---|---|---|---|');
      for (const r of rows) out.push(`| \`${r[0]}\` | ${cell(r[1]).replace(/\\\\\|/g, '\\|')} | ${r[2]} | ${cell(r[3])} |`);
      out.push('');
    } else out.push('No payload fields.', '');
    out.push('<details><summary>JSON Schema</summary>', '', '```json', JSON.stringify(s.schema, null, 2), '```', '', '</details>', '');
  }
  write('events.md', out.join('\n'));
  status.push({ page: 'events.md', source: src, available: true, note: `${schemas.length} event types` });
}

function anchor(type: string, v: number): string {
  return `${type.replace(/[^a-zA-Z0-9]+/g, '-')}-v${v}`;
}

// ---------------------------------------------------------------------------------------------------------
// Scenario schema
// ---------------------------------------------------------------------------------------------------------

function renderSchemaSection(name: string, s: JsonSchema, out: string[], depth: number): void {
  const rows: string[][] = [];
  fieldRows(s, '', rows);
  out.push(`${'#'.repeat(depth)} ${name}`, '');
  if (s.description) out.push(cell(s.description), '');
  if (rows.length) {
    out.push('| field | type | required | description |', '|---|---|---|---|');
    for (const r of rows) out.push(`| \`${r[0]}\` | ${cell(r[1]).replace(/\\\\\|/g, '\\|')} | ${r[2]} | ${cell(r[3])} |`);
    out.push('');
  }
}

function genScenario(cli: Record<string, unknown> | string): void {
  const title = 'Scenario schema';
  const file = join(repoDir, 'packages/cli/schema/scenario.schema.json');
  let schema: JsonSchema | undefined;
  let src = '';
  if (typeof cli !== 'string' && cli.scenarioSchema && typeof cli.scenarioSchema === 'object') {
    schema = JSON.parse(JSON.stringify(cli.scenarioSchema)) as JsonSchema;
    src = '@memhp/cli scenarioSchema';
  } else if (existsSync(file)) {
    schema = JSON.parse(readFileSync(file, 'utf8')) as JsonSchema;
    src = 'packages/cli/schema/scenario.schema.json';
  }
  if (!schema) return notYet('scenario.md', title, '@memhp/cli scenarioSchema / packages/cli/schema/scenario.schema.json', 'neither exists yet');
  // Publish the schema itself so editors can point `# yaml-language-server: $schema=` at the site.
  mkdirSync(join(docsDir, 'public'), { recursive: true });
  writeFileSync(join(docsDir, 'public/scenario.schema.json'), JSON.stringify(schema, null, 2) + '\n');
  const out: string[] = [
    `# ${title}`,
    '',
    `<!-- generated by apps/docs/scripts/gen-reference.ts from ${src}; do not edit -->`,
    '',
    'Scenario files are YAML. Point your editor at the published JSON Schema for completion and checks:',
    '',
    '```yaml',
    '# yaml-language-server: $schema=https://memhp.github.io/memhp/scenario.schema.json',
    '```',
    '',
    'The schema is also served by this site at [/scenario.schema.json](/scenario.schema.json).',
    '',
  ];
  renderSchemaSection('Top level', schema, out, 2);
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    if (v.type === 'object' && v.properties) renderSchemaSection(`\`${k}\``, v, out, 3);
    if (v.type === 'array' && v.items) {
      const alts = v.items.anyOf ?? v.items.oneOf ?? [];
      if (alts.length) {
        out.push(`### \`${k}\` entries`, '', `Each entry of \`${k}\` is one of:`, '');
        for (const alt of alts) {
          const key = Object.keys(alt.properties ?? {})[0];
          if (key && alt.properties?.[key]) renderSchemaSection(`\`${k}[]: ${key}\``, alt.properties[key]!, out, 4);
        }
      } else if (v.items.properties) renderSchemaSection(`\`${k}[]\``, v.items, out, 3);
    }
  }
  for (const defsKey of ['definitions', '$defs'] as const) {
    const defs = schema[defsKey] as Record<string, JsonSchema> | undefined;
    for (const [k, v] of Object.entries(defs ?? {})) renderSchemaSection(`\`${k}\``, v, out, 3);
  }
  out.push('<details><summary>The whole JSON Schema</summary>', '', '```json', JSON.stringify(schema, null, 2), '```', '', '</details>');
  write('scenario.md', out.join('\n'));
  status.push({ page: 'scenario.md', source: src, available: true, note: `${Object.keys(schema.properties ?? {}).length} top-level keys` });
}

// ---------------------------------------------------------------------------------------------------------
// API (TypeDoc)
// ---------------------------------------------------------------------------------------------------------

interface PkgJson {
  name: string;
  private?: boolean;
  exports?: Record<string, string | Record<string, string>>;
}

/** Public packages and the source file behind each export (the `@memhp/source` condition). */
export function apiEntryPoints(root: string): Array<{ pkg: string; dir: string; entries: Array<{ subpath: string; file: string }> }> {
  const result = [];
  for (const d of readdirSync(join(root, 'packages')).sort()) {
    const pj = join(root, 'packages', d, 'package.json');
    if (!existsSync(pj)) continue;
    const pkg = JSON.parse(readFileSync(pj, 'utf8')) as PkgJson;
    if (pkg.private || !pkg.exports) continue;
    const entries = [];
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target !== 'object') continue;
      const src = target['@memhp/source'];
      if (src) entries.push({ subpath, file: join(root, 'packages', d, src) });
    }
    result.push({ pkg: pkg.name, dir: d, entries });
  }
  return result;
}

/** True when a module exports nothing yet (the skeleton's `export {};`). */
function isEmptyModule(file: string): boolean {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').trim();
  return text === '' || text === 'export {};';
}

const loadTypedoc = () => import('typedoc');

async function genApi(): Promise<void> {
  const apiDir = join(refDir, 'api');
  rmSync(apiDir, { recursive: true, force: true });
  mkdirSync(apiDir, { recursive: true });
  const pkgs = apiEntryPoints(repoDir);
  const index: string[] = [
    '# API reference',
    '',
    '<!-- generated by apps/docs/scripts/gen-reference.ts (TypeDoc + typedoc-plugin-markdown); do not edit -->',
    '',
    'Generated by TypeDoc from the sources behind each package\'s `exports`.',
    '',
    '| package | entry points |',
    '|---|---|',
  ];
  let typedoc: Awaited<ReturnType<typeof loadTypedoc>>;
  try {
    typedoc = await loadTypedoc();
  } catch (e) {
    return notYet('api/index.md', 'API reference', 'typedoc', errorText(e));
  }
  let documented = 0;
  for (const p of pkgs) {
    const entries = p.entries.filter((e) => existsSync(e.file) && !isEmptyModule(e.file));
    if (!entries.length) {
      index.push(`| \`${p.pkg}\` | not yet available (its entry points export nothing yet) |`);
      continue;
    }
    const out = join(apiDir, p.dir);
    const app = await typedoc.Application.bootstrapWithPlugins({
      entryPoints: entries.map((e) => e.file),
      entryPointStrategy: 'resolve',
      tsconfig: join(repoDir, 'packages', p.dir, 'tsconfig.json'),
      plugin: ['typedoc-plugin-markdown'],
      name: p.pkg,
      readme: 'none',
      out,
      skipErrorChecking: true,
      excludePrivate: true,
      excludeInternal: true,
      githubPages: false,
      disableSources: true,
      hidePageHeader: true,
      hideBreadcrumbs: false,
      entryFileName: 'index.md',
      logLevel: 'Warn',
      // Keep the generated markdown safe for VitePress's Vue compiler.
      sanitizeComments: true,
    } as Partial<TypeDocOptions>);
    const project = await app.convert();
    if (!project) {
      index.push(`| \`${p.pkg}\` | TypeDoc could not convert it (see the build log) |`);
      continue;
    }
    await app.generateOutputs(project);
    documented++;
    index.push(`| [\`${p.pkg}\`](./${p.dir}/) | ${entries.map((e) => `\`${e.subpath}\``).join(', ')} |`);
  }
  write('api/index.md', index.join('\n'));
  status.push({ page: 'api/index.md', source: 'TypeDoc over package exports', available: documented > 0, note: `${documented} of ${pkgs.length} packages` });
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  mkdirSync(refDir, { recursive: true });
  for (const f of ['cli.md', 'events.md', 'scenario.md']) rmSync(join(refDir, f), { force: true });
  const cli = await tryImport('@memhp/cli');
  const core = await tryImport('@memhp/core');
  await genCli(cli);
  genEvents(core);
  genScenario(cli);
  await genApi();
  const overview = [
    '# Reference',
    '',
    '<!-- generated by apps/docs/scripts/gen-reference.ts; do not edit -->',
    '',
    'These pages are generated from the code on every build; none is written by hand.',
    '',
    '| page | generated from | status |',
    '|---|---|---|',
    ...status.map(
      (s) =>
        `| [${s.page.replace(/\.md$/, '').replace(/\/index$/, '')}](./${s.page.replace(/index\.md$/, '').replace(/\.md$/, '')}) | \`${s.source}\` | ${s.available ? 'generated' : '**not yet available**'}: ${cell(s.note)} |`,
    ),
  ];
  write('index.md', overview.join('\n'));
  for (const s of status) console.log(`gen-reference: ${s.page.padEnd(14)} ${s.available ? 'generated' : 'NOT YET AVAILABLE'} (${s.note})`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`gen-reference: ${errorText(e)}`);
    process.exit(1);
  });
}
