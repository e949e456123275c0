import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  // Tests start their own nats-server and spawn CLI processes: generous timeouts still catch a hang.
  test: { name: 'fleet', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
});
