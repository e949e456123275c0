import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

/**
 * The docs project: unit tests of the viewer's pure parts run from src; the browser test (test/browser.test.ts)
 * builds the site once per run in its beforeAll (or reuses a fresh build) and drives Debian's Chromium.
 */
export default defineProject({
  ...memhpResolve,
  test: {
    name: 'docs',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // test/snippets.test.ts runs its blocks concurrently, three at a time.
    maxConcurrency: 3,
  },
});
