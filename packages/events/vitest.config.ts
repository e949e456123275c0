import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  // The machine is shared: a generous timeout still catches a hang, without failing on a busy neighbour.
  test: { name: 'events', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
});
