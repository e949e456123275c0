/**
 * Every shell and TypeScript snippet of the site's pages and of the repository's READMEs runs, as a reader would
 * run it, against the built `memhp` and packages (CI builds before it tests; run `pnpm turbo run build` first).
 *
 * How a page declares what a snippet needs (an HTML comment on the line before the fence, invisible on the site):
 *   <!-- doc-test: skip: <reason> -->   not run (an install from the registry, the whole test suite, an API outline);
 *                                      the reason is required and printed
 *   <!-- doc-test: exit 0,1 -->        commands in the block may end with these statuses (default: only 0)
 *   <!-- doc-test: file <path> -->     a file of the backend tutorial's package, and
 *   <!-- doc-test: tutorial -->        its install/build/test commands: test/tutorial.test.ts runs those
 *   <!-- doc-test: output -->          on a ```text block right after a runnable block: the output that block must
 *                                      print — every non-empty line, in order, as a substring of a line of stdout
 *                                      ("…" lines are skipped)
 * A ```console block is a transcript: its "$ " lines run, and its other lines are the output it must print.
 * Every block runs on its own, in a fresh empty directory that holds links `examples` and `packages` to the
 * repository's directories (so paths read as from the repository root) and with the workspace's `memhp` first on PATH. A shell
 * block runs in bash with pipefail; a command ending with a status the block does not allow fails the test, with the
 * line. A TypeScript block is written to apps/docs/.doc-test/ (so it imports the built @memhp/* packages) and run
 * with tsx.
 * Cost: about 1 s per `memhp` command in the blocks (see the per-block times vitest prints); 180 s limit per block (a loaded 2-core machine needs it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const docsDir = resolve(import.meta.dirname, '..');
const repoDir = resolve(docsDir, '../..');
const binDir = join(repoDir, 'node_modules/.bin');
const tsDir = join(docsDir, '.doc-test');

export interface Snippet {
  file: string; // repository-relative
  line: number; // of the opening fence
  lang: 'sh' | 'ts';
  code: string;
  skip?: string;
  exits: number[];
  output?: string;
}

/** The runnable blocks of one Markdown file, with their directives and shown output. */
export function snippetsOf(file: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const out: Snippet[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) {
      i++;
      continue;
    }
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.trim().startsWith(fence); i++) body.push(lines[i]!.slice(open[1]!.length));
    i++;
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const directive = j >= 0 ? /<!--\s*doc-test:\s*(.*?)\s*-->/.exec(lines[j]!)?.[1] : undefined;
    if (lang === 'text' && directive === 'output') {
      const prev = out.at(-1);
      if (!prev) throw new Error(`${file}:${start + 1}: an output block with no runnable block before it`);
      prev.output = body.join('\n');
      continue;
    }
    const kind = ['bash', 'sh', 'shell', 'console'].includes(lang) ? 'sh' : ['ts', 'typescript'].includes(lang) ? 'ts' : undefined;
    if (!kind) continue;
    const s: Snippet = { file, line: start + 1, lang: kind, code: body.join('\n'), exits: [0] };
    if (lang === 'console') {
      // A terminal transcript: "$ " lines are the commands, the other lines what they print.
      s.code = body.filter((l) => l.startsWith('$ ')).map((l) => l.slice(2)).join('\n');
      const shown = body.filter((l) => !l.startsWith('$ '));
      if (shown.some((l) => l.trim())) s.output = shown.join('\n');
    }
    if (directive?.startsWith('file ') || directive === 'tutorial') {
      s.skip = 'part of the backend tutorial package, which tutorial.test.ts builds and tests outside the repository';
    } else if (directive?.startsWith('skip')) {
      s.skip = directive.replace(/^skip:?\s*/, '');
      if (!s.skip) throw new Error(`${file}:${start + 1}: "doc-test: skip" needs a reason`);
    } else if (directive?.startsWith('exit')) {
      s.exits = directive.replace(/^exit\s*/, '').split(',').map((x) => Number(x.trim()));
    } else if (directive) throw new Error(`${file}:${start + 1}: unknown doc-test directive "${directive}"`);
    out.push(s);
  }
  return out;
}

/** Every page of the site (without generated ones) and every README-like file the repository tracks. */
function docFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '*.md'], { cwd: repoDir, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && !f.startsWith('.changeset/') && !/CHANGELOG\.md$/.test(f) && existsSync(join(repoDir, f)));
}

/** Checks shown output: each non-empty line, in order, is found within some later line of the actual output. */
export function outputMismatch(shown: string, actual: string): string | null {
  const got = actual.split('\n');
  let at = 0;
  for (const want of shown.split('\n').map((l) => l.trim())) {
    if (!want || want === '…' || want === '...') continue;
    const k = got.findIndex((g, n) => n >= at && g.includes(want));
    if (k < 0) return `shown line not printed (in order): ${JSON.stringify(want)}`;
    at = k + 1;
  }
  return null;
}

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  rmSync(tsDir, { recursive: true, force: true });
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'memhp-doc-'));
  scratch.push(d);
  symlinkSync(join(repoDir, 'examples'), join(d, 'examples'));
  symlinkSync(join(repoDir, 'packages'), join(d, 'packages')); // test fixtures some pages read
  return d;
}

/** spawnSync's result shape, without blocking the event loop (blocks run a few at a time). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      done({ status: null, stdout, stderr, error });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, stdout, stderr, error: signal ? new Error(`killed by ${signal} (180 s limit)`) : undefined });
    });
  });
}

async function runSnippet(s: Snippet): Promise<{ ok: boolean; detail: string; stdout: string }> {
  const cwd = workDir();
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH}`, NO_COLOR: '1', FORCE_COLOR: '0' };
  let r;
  if (s.lang === 'sh') {
    // Each failing command reports its line and status on fd 3; the block goes on, like a reader's terminal would.
    const script = `exec 3>"${cwd}/.status"\ntrap 'echo "$LINENO $?" >&3' ERR\nset -o pipefail\n${s.code}\n`;
    r = await run('bash', ['-c', script], { cwd, env });
    const bad = readFileSync(join(cwd, '.status'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').map(Number) as [number, number])
      .filter(([, code]) => !s.exits.includes(code));
    if (bad.length || r.error) {
      const lines = s.code.split('\n');
      return {
        ok: false,
        stdout: r.stdout,
        detail: r.error
          ? String(r.error)
          : bad.map(([ln, code]) => `exit ${code}: ${lines[ln - 4] ?? '?'}`).join('\n') + `\n${r.stderr.slice(-2000)}`,
      };
    }
  } else {
    mkdirSync(tsDir, { recursive: true });
    const f = join(tsDir, `${s.file.replace(/[^\w]+/g, '_')}_${s.line}.ts`);
    writeFileSync(f, s.code);
    r = await run(join(binDir, 'tsx'), [f], { cwd, env });
    if (r.status === null || !s.exits.includes(r.status)) return { ok: false, stdout: r.stdout, detail: `exit ${r.status}\n${r.stderr.slice(-2000)}` };
  }
  if (s.output !== undefined) {
    const m = outputMismatch(s.output, r.stdout);
    if (m) return { ok: false, stdout: r.stdout, detail: `${m}\n--- stdout ---\n${r.stdout.slice(0, 3000)}` };
  }
  return { ok: true, stdout: r.stdout, detail: '' };
}

const all = docFiles().flatMap((f) => snippetsOf(f, readFileSync(join(repoDir, f), 'utf8')));

describe('doc snippets', () => {
  it('the built memhp is there to run them', () => {
    expect(existsSync(join(repoDir, 'packages/cli/dist/bin.js')), 'build first: pnpm turbo run build').toBe(true);
    expect(existsSync(join(binDir, 'memhp'))).toBe(true);
  });

  it('every skipped block says why, and most blocks run', () => {
    const skipped = all.filter((s) => s.skip);
    for (const s of skipped) expect(s.skip, `${s.file}:${s.line}`).toMatch(/\w{3,}/);
    expect(all.length - skipped.length).toBeGreaterThan(skipped.length);
  });

  // Three at a time: most of a block's time is a memhp process starting.
  it.concurrent.each(all.filter((s) => !s.skip).map((s) => [`${s.file}:${s.line} (${s.lang})`, s] as const))('%s', async (_name, s) => {
    const r = await runSnippet(s);
    expect(r.ok, r.detail).toBe(true);
  }, 200_000);
});

describe('the snippet runner itself', () => {
  it('fails a block whose command exits with a status the block does not allow, and checks shown output', async () => {
    const [bad, allowed, shown] = snippetsOf(
      'x.md',
      [
        '```bash',
        'true',
        'false',
        '```',
        '<!-- doc-test: exit 0,1 -->',
        '```bash',
        'false',
        '```',
        '```bash',
        'echo "memmap pages 512"',
        '```',
        '<!-- doc-test: output -->',
        '```text',
        'memmap pages 511',
        '```',
      ].join('\n'),
    );
    const failed = await runSnippet(bad!);
    expect(failed).toMatchObject({ ok: false });
    expect(failed.detail).toContain('exit 1: false');
    expect(await runSnippet(allowed!)).toMatchObject({ ok: true });
    expect(await runSnippet(shown!)).toMatchObject({ ok: false });
    expect(await runSnippet({ ...shown!, output: 'memmap pages 512' })).toMatchObject({ ok: true });
  });
});
