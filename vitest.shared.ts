import { defaultServerConditions } from 'vite';

/** Tests run against `src/` through the `@memhp/source` export condition, so no build is needed. */
export const memhpResolve = {
  resolve: { conditions: ['@memhp/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@memhp/source', ...defaultServerConditions] } },
};
