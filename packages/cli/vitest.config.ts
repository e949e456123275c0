import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  test: { name: 'cli', include: ['test/**/*.test.ts'], // spawned CLIs and DuckDB start slowly on a loaded 2-core machine
    testTimeout: 60_000, hookTimeout: 120_000 },
});
