/**
 * The viewer page as the bench and the probes drive it: open the site's viewer, load a log through its file picker
 * until the page is ready, and time a seek (the slider is set to an event, and the time runs until the memory map
 * shows that event).
 */
import type { Page } from 'playwright-core';

/** Opens the viewer page of a served site and waits for its file picker. */
export async function openViewer(page: Page, siteUrl: string): Promise<void> {
  await page.goto(`${siteUrl}/viewer.html`);
  await page.waitForSelector('[data-testid="viewer-file"]');
}

/** Picks the log by path (Playwright refuses a buffer over 50 MB) and waits until the page is ready. */
export async function loadLog(page: Page, log: string): Promise<void> {
  await page.getByTestId('viewer-file').setInputFiles(log);
  await page.waitForSelector('[data-testid="viewer-root"][data-state="ready"]', { timeout: 600_000 });
}

/** The last event of the loaded log (the slider's end). */
export async function lastSeqOf(page: Page): Promise<number> {
  return Number(await page.getByTestId('viewer-slider').getAttribute('max'));
}

/** `n` events to seek to in 1..lastSeq, from a fixed seed, so that two builds or two runs make the same seeks. */
export function seekTargets(lastSeq: number, n: number): number[] {
  let x = 777;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648), x / 2147483648);
  return Array.from({ length: n }, () => 1 + Math.floor(rnd() * (lastSeq - 1)));
}

export async function timedSeek(page: Page, at: number): Promise<number> {
  // a string, not a function: tsx would wrap the inner functions with a helper the page does not have
  return (await page.evaluate(`(async () => {
    const slider = document.querySelector('[data-testid="viewer-slider"]');
    const t = performance.now();
    slider.value = '${at}';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    while (document.querySelector('[data-testid="viewer-phys"]')?.getAttribute('data-seq') !== '${at}') await new Promise((r) => requestAnimationFrame(r));
    return performance.now() - t;
  })()`)) as number;
}
