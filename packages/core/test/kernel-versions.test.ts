import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventEnvelope } from '@memhp/events';
import { testBackend } from './support/test-backend.js';
import { small } from './support/machines.js';
import {
  KERNEL_RULES,
  createSimulator,
  replayState,
  KERNEL_SERIES,
  SUPPORTED_KERNELS,
  defineRule,
  inRange,
  parseKernelVersion,
  pick,
  rulesFor,
  versionKey,
  type KernelVersion,
} from '../src/index.js';

describe('kernel versions a user can give', () => {
  it('accepts every series from 5.10 to 6.18: 5.10 … 5.19, then 6.0 … 6.18', () => {
    // kernel.org: 5.19 was followed by 6.0 (October 2022); 6.18 is the newest series memhp models
    expect(KERNEL_SERIES.length).toBe(10 + 19);
    expect(KERNEL_SERIES.slice(8, 12)).toEqual(['5.18', '5.19', '6.0', '6.1']);
    for (const k of KERNEL_SERIES) expect(parseKernelVersion(k)).toBe(k);
    expect(parseKernelVersion('v6.12')).toBe('6.12');
  });

  it('accepts an exact stable release, as given', () => {
    expect(parseKernelVersion('6.1.16')).toBe('6.1.16');
    expect(parseKernelVersion(' v6.12.43 ')).toBe('6.12.43');
  });

  it('refuses series outside 5.10–6.18 and distribution release strings, saying why', () => {
    expect(() => parseKernelVersion('5.9')).toThrow('unsupported kernel version "5.9": memhp models the series 5.10 to 6.18');
    expect(() => parseKernelVersion('6.19.1')).toThrow('memhp models the series 5.10 to 6.18');
    expect(() => parseKernelVersion('6.1.0-27-amd64')).toThrow('a distribution release string does not say which stable release it is');
    expect(() => parseKernelVersion('latest')).toThrow('not a kernel version');
  });

  it('orders a series after every stable release of it, and before the next series', () => {
    // "6.1" names the newest 6.1.y as distributions ship it (apps/docs/concepts/design.md#design "Kernel version")
    expect(versionKey('6.1.0')).toBeLessThan(versionKey('6.1.16'));
    expect(versionKey('6.1.192')).toBeLessThan(versionKey('6.1'));
    expect(versionKey('6.1')).toBeLessThan(versionKey('6.2.0'));
    expect(versionKey('5.19')).toBeLessThan(versionKey('6.0'));
  });

  it('gives a series no rule names the rules of the release before it (6.12 = 6.11, 6.7 = 6.6)', () => {
    // apps/docs/kernel/timeline.md#timeline: no rule in core changes in 6.7 or 6.12
    expect(rulesFor('6.12')).toEqual(rulesFor('6.11'));
    expect(rulesFor('6.7')).toEqual(rulesFor('6.6'));
    expect(rulesFor('6.12.43')).toEqual(rulesFor('6.12'));
  });

  it('keeps the representative releases a subset of the series, oldest first', () => {
    expect(SUPPORTED_KERNELS.every((k) => KERNEL_SERIES.includes(k))).toBe(true);
    expect([...SUPPORTED_KERNELS].sort((a, b) => versionKey(a) - versionKey(b))).toEqual([...SUPPORTED_KERNELS]);
  });

  it('picks exactly one range of every rule for any version 5.10.0 … 6.18.999', () => {
    const version = fc
      .tuple(fc.constantFrom(...KERNEL_SERIES), fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }))
      .map(([s, p]) => (p === undefined ? s : (`${s}.${p}` as KernelVersion)));
    fc.assert(
      fc.property(version, (v) => {
        for (const r of KERNEL_RULES) expect(r.ranges.filter((x) => inRange(v, x)).length).toBe(1);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('logs of a version given exactly', () => {
  it('record the version as given in the header and replay from it', () => {
    const sim = createSimulator({ config: small(1, '6.12.43'), backend: testBackend, autoBoot: false });
    const events: EventEnvelope[] = [];
    sim.bus.on('record', (e) => events.push(e));
    sim.boot();
    expect(sim.header().kernel).toBe('6.12.43');
    expect(structuredClone(replayState(events, sim.header()))).toEqual(structuredClone(sim.state));
  });
});

describe('rules with a stable backport', () => {
  const rule = defineRule<string>({
    name: 'test: backported to 6.1.16',
    source: 'a test rule shaped like arm64 HVO (060a2c92d1b6: 6.3, stable 6.1.16)',
    ranges: [
      { until: '6.1.16', value: 'before' },
      { since: '6.1.16', until: '6.2', value: 'after' },
      { since: '6.2', until: '6.3', value: 'before' },
      { since: '6.3', value: 'after' },
    ],
  });

  it('picks by the stable release when given, and takes a series as its newest stable release', () => {
    expect(pick(rule, '6.1.15')).toBe('before');
    expect(pick(rule, '6.1.16')).toBe('after');
    expect(pick(rule, '6.1')).toBe('after');
    expect(pick(rule, '6.0')).toBe('before');
    expect(pick(rule, '6.2.5')).toBe('before');
  });

  it('refuses a rule whose ranges leave a stable release uncovered', () => {
    expect(() =>
      defineRule<number>({
        name: 'test: gap',
        source: 'test',
        ranges: [
          { until: '6.1.10', value: 1 },
          { since: '6.1.16', value: 2 },
        ],
      }),
    ).toThrow('version rule test: gap: 0 ranges match kernel 6.1.10');
  });
});
