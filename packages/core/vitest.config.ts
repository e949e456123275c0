import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  test: { name: 'core', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
});
