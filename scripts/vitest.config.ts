import { defineProject } from 'vitest/config';

// The repository's own scripts (the CI summary line); fixtures are whole vitest projects these tests run.
export default defineProject({
  test: { name: 'scripts', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
