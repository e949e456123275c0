/**
 * The vitest wrapper: `describeConformance(backend, opts)` registers one `describe` per configuration and one
 * `it` per check, so a backend's test file is a single call. vitest is a peer dependency of this entry only.
 */
import { describe, expect, it } from 'vitest';
import type { ArchBackend } from '@memhp/core';
import { CONFORMANCE_CHECKS, configLabel, defaultConfigs, runCheck, type ConformanceOptions } from './checks.js';

export function describeConformance(backend: ArchBackend, opts: ConformanceOptions = {}): void {
  describe(`${backend.displayName} (${backend.id}) conformance`, () => {
    for (const config of defaultConfigs(backend, opts)) {
      const s = backend.supports(config);
      describe(configLabel(config), () => {
        if (!s.supported) {
          it.skip(`not supported: ${s.why}`, () => undefined);
          return;
        }
        for (const check of CONFORMANCE_CHECKS) {
          it(check.name, () => {
            expect(runCheck(check, backend, config, opts).problems).toEqual([]);
          });
        }
      });
    }
  });
}
