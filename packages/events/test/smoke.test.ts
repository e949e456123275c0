import { describe, expect, it } from 'vitest';
import * as events from '@memhp/events';

describe('workspace wiring', () => {
  it('resolves @memhp/events from src without a build', () => {
    expect(typeof events).toBe('object');
  });
});
