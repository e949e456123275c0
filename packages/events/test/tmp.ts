import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh directory under the OS temp dir, removed when the test file finishes. Call it at module level. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
