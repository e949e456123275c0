import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  test: { name: 'docs', include: ['test/**/*.test.ts'], passWithNoTests: true },
});
