import { defineProject } from 'vitest/config';
import { memhpResolve } from '../../vitest.shared.js';

export default defineProject({
  ...memhpResolve,
  // The real-kernel test boots QEMU under TCG on a shared 2-core machine; its own waits are bounded tighter.
  test: { name: 'conformance', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 600_000 },
});
