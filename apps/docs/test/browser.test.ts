/**
 * The site in a real browser: Debian's Chromium driven by playwright-core against the built site, served on
 * 127.0.0.1 by a small static server. Navigates the docs, opens a bundled example log in the viewer, scrubs the
 * timeline and checks what is drawn and the counters shown against `memhp replay --json` of the same log.
 * Leaves a screenshot in apps/docs/test-results/viewer.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { ensureSiteBuilt } from './site-build.js';
import { serveDir } from './static-server.js';
import { CHROMIUM, launchWithProfile, type ProfiledChromium } from './chromium.js';

const docsDir = resolve(import.meta.dirname, '..');
const repo = resolve(docsDir, '../..');
const dist = join(docsDir, '.vitepress/dist');
const results = join(docsDir, 'test-results');

let server: Awaited<ReturnType<typeof serveDir>>;
let browser: ProfiledChromium | undefined;
let page: Page;
const pageErrors: string[] = [];

interface ExampleEntry {
  file: string;
  events: number;
}

/** `memhp replay --json` from source (what `pnpm memhp` runs): the numbers the viewer must show. */
function replayJson(log: string, report: 'summary' | 'meminfo' | 'vmstat' | 'sections' | 'blocks', at?: number): Record<string, unknown> {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@memhp/source', '--import', 'tsx', join(repo, 'packages/cli/src/bin.ts'), 'replay', log, '--report', report, ...(at === undefined ? [] : ['--at', String(at)]), '--json'],
    { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  if (r.status !== 0) throw new Error(`memhp replay failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/**
 * The same, asynchronously, so the replays of several points run side by side; the built CLI, which the site's
 * build (ensureSiteBuilt, turbo with its dependencies) has just made, starts in a fraction of tsx's time.
 */
async function replayJsonAsync(log: string, report: 'meminfo' | 'vmstat' | 'sections' | 'blocks', at: number): Promise<Record<string, unknown>> {
  const built = join(repo, 'packages/cli/dist/bin.js');
  const cli = existsSync(built) ? [built] : ['--conditions=@memhp/source', '--import', 'tsx', join(repo, 'packages/cli/src/bin.ts')];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...cli, 'replay', log, '--report', report, '--at', String(at), '--json'],
    { cwd: repo, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 << 20 },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The two grids' canvases, each as its pixel size and a hash of its pixels (FNV-1a over the RGBA bytes). */
async function gridPixels(): Promise<string[]> {
  return (await page.evaluate(`['viewer-phys', 'viewer-vmemmap'].map((id) => {
    const c = document.querySelector('[data-testid="' + id + '"]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619);
    return c.width + 'x' + c.height + ' ' + (h >>> 0).toString(16);
  })`)) as string[];
}

/** How many rows of each grid the last frame painted (the rows that changed, or all). */
async function rowsPainted(): Promise<number[]> {
  return Promise.all(['viewer-phys', 'viewer-vmemmap'].map(async (id) => Number(await page.getByTestId(id).getAttribute('data-rows-painted'))));
}

async function counterText(name: string): Promise<string> {
  return (await page.getByTestId(`counter-${name}`).textContent())?.trim() ?? '';
}

async function waitForFrame(seq: number): Promise<void> {
  await page.waitForSelector(`[data-testid="viewer-seq"][data-seq="${seq}"]`, { timeout: 30_000 });
}

beforeAll(async () => {
  ensureSiteBuilt();
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  server = await serveDir(dist);
  browser = await launchWithProfile('memhp-chromium-', { width: 1280, height: 1400 });
  page = browser.page;
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the documentation site in Chromium', () => {
  it('navigates from the home page to a concept page and its figure', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Concepts' }).first().click();
    await expect.poll(() => page.locator('h1').first().textContent()).toContain('The sparse memory model');
    expect(await page.locator('figure.figure svg').count()).toBeGreaterThan(0);
    await page.getByRole('link', { name: 'Altmaps and memmap_on_memory' }).click();
    await expect.poll(() => page.locator('h1').first().textContent()).toContain('memmap_on_memory');
    // apps/docs/kernel/memmap-on-memory.md#accounting: 129024 kB = (32768 − 512) pages × 4 kB, shown in the figure's caption
    expect(await page.locator('figure.figure figcaption').first().textContent()).toContain('129024 kB');
  });

  it('serves the generated reference pages', async () => {
    await page.goto(`${server.url}/reference/`);
    await expect.poll(() => page.locator('h1').first().textContent()).toContain('Reference');
    const rows = await page.locator('table tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(4);
  });

  it('replays an example log in the viewer and shows the counters memhp replay computes', async () => {
    const examples = JSON.parse(readFileSync(join(dist, 'examples/index.json'), 'utf8')) as ExampleEntry[];
    const ex = examples.find((e) => e.file === 'cloud-hot-add-12g.ndjson.gz') ?? examples[0];
    expect(ex, 'the build bundles at least one example log').toBeTruthy();
    const plainLog = join(dist, 'examples', ex!.file.replace(/\.gz$/, ''));

    await page.goto(`${server.url}/viewer.html`);
    await page.getByTestId('viewer-examples').selectOption(ex!.file);
    await page.getByTestId('viewer-load-example').click();
    await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 60_000 });
    const last = ex!.events;
    await waitForFrame(last);
    expect(await page.getByTestId('viewer-status').textContent()).toContain(`${last} events`);

    // The final state, against memhp replay --json of the same log.
    const mi = replayJson(plainLog, 'meminfo', last).meminfo as Record<string, number>;
    const vs = replayJson(plainLog, 'vmstat', last).vmstat as Record<string, number>;
    expect(await counterText('MemTotal')).toBe(`${mi.MemTotal} kB`);
    expect(await counterText('MemFree')).toBe(`${mi.MemFree} kB`);
    expect(await counterText('nr_memmap_pages')).toBe(String(vs.nr_memmap_pages));
    expect(await counterText('nr_memmap_boot_pages')).toBe(String(vs.nr_memmap_boot_pages));

    // What is drawn: one cell per section in the kmem -n table, one per memory block's sections.
    const sections = replayJson(plainLog, 'sections', last);
    const sectionRows = (sections.sections ?? []) as unknown[];
    // drawn on a canvas: it says how many cells it drew, and pointing at one names it
    expect(Number(await page.getByTestId('viewer-phys').getAttribute('data-cells'))).toBe(sectionRows.length);
    const firstNr = Number((sectionRows[0] as Record<string, unknown>).NR ?? (sectionRows[0] as Record<string, unknown>).nr);
    const phys = page.getByTestId('viewer-phys');
    const box = (await phys.boundingBox())!;
    // cell (column nr % 64, first drawn row) at 11 × 17 units of a 708-unit-wide grid, 2 units in
    const unit = box.width / (64 * 11 + 4);
    await page.mouse.move(box.x + (2 + (firstNr % 64) * 11 + 5) * unit, box.y + (2 + 7) * unit);
    await expect.poll(() => page.getByTestId('viewer-hover').textContent()).toContain(`section ${firstNr} `);
    const blocks = replayJson(plainLog, 'blocks', last);
    const blockRows = (blocks.blocks ?? []) as Array<{ STATE?: string; state?: string }>;
    const online = blockRows.filter((b) => (b.STATE ?? b.state ?? '').toLowerCase() === 'online').length;
    const summary = (await page.getByTestId('viewer-blocks-summary').textContent()) ?? '';
    expect(summary).toContain(`${blockRows.length} blocks`);
    // "192 blocks, 96 offline, 64 online Normal, …": the online groups add up to memhp's online blocks
    const shownOnline = [...summary.matchAll(/(\d+) online/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(shownOnline).toBe(online);
    expect(Number(await page.getByTestId('viewer-vmemmap').getAttribute('data-cells'))).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="viewer-plot"] polyline').count()).toBe(4);

    mkdirSync(results, { recursive: true });
    await page.screenshot({ path: join(results, 'viewer.png'), fullPage: true });

    // Scrub to the middle of the run: the counters follow the state after that event.
    const mid = Math.floor(last / 2);
    await page.getByTestId('viewer-seq-input').fill(String(mid));
    await page.getByTestId('viewer-seq-input').press('Enter');
    await waitForFrame(mid);
    const miMid = replayJson(plainLog, 'meminfo', mid).meminfo as Record<string, number>;
    const vsMid = replayJson(plainLog, 'vmstat', mid).vmstat as Record<string, number>;
    expect(await counterText('MemTotal')).toBe(`${miMid.MemTotal} kB`);
    expect(await counterText('MemFree')).toBe(`${miMid.MemFree} kB`);
    expect(await counterText('nr_memmap_pages')).toBe(String(vsMid.nr_memmap_pages));
    expect(await page.getByTestId('viewer-event').textContent()).toContain(`#${mid} `);

    // The slider reaches the first event, and stepping forward moves exactly one event.
    await page.getByTestId('viewer-slider').fill('0');
    await waitForFrame(0);
    await page.getByTestId('viewer-next').click();
    await waitForFrame(1);
    expect(await page.getByTestId('viewer-event').textContent()).toContain('#1 ');

    await page.screenshot({ path: join(results, 'viewer-scrubbed.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('shows HugeTLB pages optimised and skipped as memhp replay summarises them (HVO beside memmap_on_memory)', async () => {
    const file = '001-hvo-self-hosted.ndjson';
    const log = join(dist, 'examples', file);
    if (!existsSync(log)) return expect.fail(`${file} is not among the bundled examples`);
    const summary = replayJson(log, 'summary').summary as { events: number; hvo: { hugepagesOptimized: number; hugepagesSkipped: number } };
    await page.goto(`${server.url}/viewer.html`);
    await page.getByTestId('viewer-examples').selectOption(file);
    await page.getByTestId('viewer-load-example').click();
    await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 60_000 });
    await waitForFrame(summary.events);
    // VmemmapSelfHosted pages are skipped, the others optimised (apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/hvo.md#conditions rule 5)
    expect(await page.getByTestId('viewer-hugetlb').textContent()).toContain(
      `${summary.hvo.hugepagesOptimized} optimised, ${summary.hvo.hugepagesSkipped} skipped`,
    );
    expect(summary.hvo.hugepagesOptimized + summary.hvo.hugepagesSkipped).toBeGreaterThan(0);
  }, 60_000);

  it('seeks back and forth in the worker, plain and gzip, to the state memhp replay --at reaches at each point', async () => {
    const ex = 'cloud-hot-add-12g.ndjson.gz';
    const plainLog = join(dist, 'examples', ex.replace(/\.gz$/, ''));
    if (!existsSync(plainLog)) return expect.fail(`${ex} is not among the bundled examples`);
    // Backwards, forwards, next to each other and far apart; no point is the last event (the first frame).
    const points = [3000, 17, 1500, 1501, 3924, 1];
    const expected = new Map<number, { mi: Record<string, number>; vs: Record<string, number>; sections: unknown[]; blocks: Array<Record<string, string>> }>();
    // two points (eight processes) at a time: more only slows a 2-core machine
    for (let i = 0; i < points.length; i += 2) {
      await Promise.all(
        points.slice(i, i + 2).map(async (at) => {
          const [mi, vs, sections, blocks] = await Promise.all(
            (['meminfo', 'vmstat', 'sections', 'blocks'] as const).map((r) => replayJsonAsync(plainLog, r, at)),
          );
          expected.set(at, { mi: mi!.meminfo as Record<string, number>, vs: vs!.vmstat as Record<string, number>, sections: (sections!.sections ?? []) as unknown[], blocks: (blocks!.blocks ?? []) as Array<Record<string, string>> });
        }),
      );
    }
    for (const file of [ex, ex.replace(/\.gz$/, '')]) {
      await page.goto(`${server.url}/viewer.html`);
      // through the file picker, as a user opens their own log
      await page.getByTestId('viewer-file').setInputFiles(join(dist, 'examples', file));
      await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 60_000 });
      expect(Number(await page.getByTestId('viewer-root').getAttribute('data-states'))).toBeGreaterThan(0);
      const partial = [0, 0];
      const lastSeq = Number(await page.getByTestId('viewer-slider').getAttribute('max'));
      for (const at of points) {
        await page.getByTestId('viewer-seq-input').fill(String(at));
        await page.getByTestId('viewer-seq-input').press('Enter');
        await waitForFrame(at);
        const want = expected.get(at)!;
        expect(await page.getByTestId('viewer-event').textContent(), `${file} @${at}`).toContain(`#${at} `);
        expect(await counterText('MemTotal'), `${file} @${at}`).toBe(`${want.mi.MemTotal} kB`);
        expect(await counterText('MemFree'), `${file} @${at}`).toBe(`${want.mi.MemFree} kB`);
        expect(await counterText('nr_memmap_pages'), `${file} @${at}`).toBe(String(want.vs.nr_memmap_pages));
        expect(await counterText('nr_memmap_boot_pages'), `${file} @${at}`).toBe(String(want.vs.nr_memmap_boot_pages));
        expect(Number(await page.getByTestId('viewer-phys').getAttribute('data-cells')), `${file} @${at}`).toBe(want.sections.length);
        expect(await page.getByTestId('viewer-phys').getAttribute('data-seq')).toBe(String(at));
        const summary = (await page.getByTestId('viewer-blocks-summary').textContent()) ?? '';
        expect(summary, `${file} @${at}`).toContain(`${want.blocks.length} blocks`);
        const online = want.blocks.filter((b) => (b.STATE ?? b.state ?? '').toLowerCase() === 'online').length;
        expect([...summary.matchAll(/(\d+) online/g)].reduce((n, m) => n + Number(m[1]), 0), `${file} @${at}`).toBe(online);
        // A frame paints only the rows of the grids that changed since the one before: the canvases then hold
        // exactly the pixels of the same frame painted whole (which a resize does: the pixel ratio may change).
        const rows = await rowsPainted();
        const pixels = await gridPixels();
        await page.evaluate('window.dispatchEvent(new Event("resize"))');
        const all = await rowsPainted();
        expect(await gridPixels(), `${file} @${at}: rows painted ${rows.join(', ')} of ${all.join(', ')}`).toEqual(pixels);
        rows.forEach((n, i) => (partial[i]! += n > 0 && n < all[i]! ? 1 : 0));
        // the red line over the plots is at the event shown
        expect(Number(await page.getByTestId('viewer-plot-cursor').first().getAttribute('data-at'))).toBeCloseTo(at / lastSeq, 5);
      }
      // some seeks painted some rows of a grid, not all, and still drew the frame as a whole paint does
      expect(partial[0]! + partial[1]!, file).toBeGreaterThan(0);
    }
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('reads a plain log in a worker of its own beside the replay worker (a gzip log in its inflate worker instead)', async () => {
    // viewer/read-beside.ts: reading the File moved off the replay worker, whose load it was a fifth of
    const started: string[] = [];
    const onWorker = (w: { url(): string }) => started.push(w.url().split('/').pop()!.replace(/-[\w-]+\.js$/, ''));
    page.on('worker', onWorker);
    try {
      for (const file of ['cloud-hot-add-12g.ndjson', 'cloud-hot-add-12g.ndjson.gz']) {
        started.length = 0;
        await page.goto(`${server.url}/viewer.html`);
        await page.getByTestId('viewer-file').setInputFiles(join(dist, 'examples', file));
        await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 60_000 });
        expect(started.sort(), file).toEqual(file.endsWith('.gz') ? ['inflate.worker', 'replay.worker'] : ['read.worker', 'replay.worker']);
      }
    } finally {
      page.off('worker', onWorker);
    }
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('opens a log from the file picker and reports a broken one with its line', async () => {
    await page.goto(`${server.url}/viewer.html`);
    await page.getByTestId('viewer-file').setInputFiles({
      name: 'broken.ndjson',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from('{"format":"memhp-log"}\n{"seq":1}\n'),
    });
    await page.waitForSelector('[data-testid="viewer-root"][data-state="error"]', { timeout: 30_000 });
    expect(await page.getByTestId('viewer-status').textContent()).toMatch(/broken\.ndjson:\d+/);
  });
});
