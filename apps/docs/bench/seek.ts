/**
 * One timed seek in the viewer page, as the viewer bench and the worker profiler make them: the slider is set to
 * event `at`, and the time runs until the memory map shows that event.
 */
import type { Page } from 'playwright-core';

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
