import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BusDeliveryError, EventBus, type BusSubscriberError, type EventDraft, type EventEnvelope } from '@memhp/events';
import { testCatalogue } from './helpers.js';

const draft = (time = 0, text = 'x'): EventDraft => ({ time, op: 1, cause: null, type: 'note', v: 1, payload: { text } });

describe('EventBus', () => {
  it('assigns contiguous seqs from 1 and returns the envelope', () => {
    const bus = new EventBus();
    const a = bus.publish(draft());
    const b = bus.publish({ ...draft(5), cause: a.seq });
    expect([a.seq, b.seq, bus.lastSeq]).toEqual([1, 2, 2]);
    expect(b).toEqual({ seq: 2, time: 5, op: 1, cause: 1, type: 'note', v: 1, payload: { text: 'x' } });
    expect(Object.keys(b)).toEqual(['seq', 'time', 'op', 'cause', 'type', 'v', 'payload']);
  });

  it('publishFields gives the envelope publish gives, field by field, with the same checks and freezing', () => {
    const a = new EventBus({ catalogue: testCatalogue() });
    const b = new EventBus({ catalogue: testCatalogue() });
    const seen: EventEnvelope[] = [];
    b.on('test', (e) => seen.push(e));
    const d = draft(7, 'same');
    const ea = a.publish(d);
    const eb = b.publishFields(d.time, d.op, d.cause, d.type, d.v, d.payload);
    expect(eb).toEqual(ea);
    expect(Object.keys(eb)).toEqual(Object.keys(ea));
    expect(seen).toEqual([eb]);
    expect(Object.isFrozen(eb) && Object.isFrozen(eb.payload)).toBe(true);
    expect(() => b.publishFields(6, 1, null, 'note', 1, { text: 'x' })).toThrow('publish note: time 6 goes back from 7');
    expect(() => b.publishFields(7, 1, 9, 'note', 1, { text: 'x' })).toThrow(/cause must be null or the seq of an earlier event/);
    expect(() => b.publishFields(7, 1, null, 'note', 1, { text: 1 })).toThrow('publish note@1: /payload/text: expected string');
    expect(() => b.publishFields(7, 1, null, 'note', 0, { text: 'x' })).toThrow('publish note: v must be a positive integer');
    expect(b.lastSeq).toBe(1);
  });

  it('continues numbering after an existing log with startSeq', () => {
    const bus = new EventBus({ startSeq: 41 });
    expect(bus.publish(draft()).seq).toBe(42);
  });

  it('delivers synchronously, in subscription order, to on() and events$ subscribers alike', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on('first', (e) => seen.push(`first:${e.seq}`));
    bus.events$.subscribe((e) => seen.push(`rx:${e.seq}`));
    bus.on('third', (e) => seen.push(`third:${e.seq}`));
    bus.publish(draft());
    expect(seen).toEqual(['first:1', 'rx:1', 'third:1']);
  });

  it('reports a throwing subscriber on errors$ by name with the event, and still delivers to the rest', () => {
    const bus = new EventBus();
    const errors: BusSubscriberError[] = [];
    bus.errors$.subscribe((f) => errors.push(f));
    const after: number[] = [];
    bus.on('views', () => {
      throw new Error('view broke');
    });
    bus.on('log-writer', (e) => after.push(e.seq));
    const e1 = bus.publish(draft());
    bus.publish(draft());
    expect(after).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ subscriber: 'views', event: e1 });
    expect((errors[0]!.error as Error).message).toBe('view broke');
  });

  it('names anonymous events$ subscribers in its reports', () => {
    const bus = new EventBus();
    const errors: BusSubscriberError[] = [];
    bus.errors$.subscribe((f) => errors.push(f));
    bus.events$.subscribe({
      next: () => {
        throw new Error('boom');
      },
    });
    bus.publish(draft());
    expect(errors[0]?.subscriber).toBe('events$ subscriber #1');
  });

  it('throws BusDeliveryError after delivering to everyone when nobody watches errors$', () => {
    const bus = new EventBus();
    const got: number[] = [];
    bus.on('bad', () => {
      throw new Error('nope');
    });
    bus.on('good', (e) => got.push(e.seq));
    expect(() => bus.publish(draft())).toThrow(BusDeliveryError);
    expect(() => bus.publish(draft())).toThrow('subscriber "bad" threw on event #2 (note): nope');
    expect(got).toEqual([1, 2]);
  });

  it('queues a re-entrant publish until the current event reached every subscriber', () => {
    const bus = new EventBus();
    const log: string[] = [];
    bus.on('decider', (e) => {
      log.push(`decider:${e.seq}`);
      if (e.seq === 1) bus.publish({ ...draft(), cause: 1 });
    });
    bus.on('writer', (e) => log.push(`writer:${e.seq}`));
    bus.publish(draft());
    expect(log).toEqual(['decider:1', 'writer:1', 'decider:2', 'writer:2']);
  });

  it('gives a late subscriber only new events, and a bounded history on request', () => {
    const bus = new EventBus({ historyLimit: 3 });
    for (let i = 0; i < 5; i++) bus.publish(draft(i));
    const late: number[] = [];
    bus.on('late', (e) => late.push(e.seq));
    bus.publish(draft(9));
    expect(late).toEqual([6]);
    expect(bus.recent().map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(new EventBus().recent()).toEqual([]);
  });

  it('freezes envelopes so one subscriber cannot change what the next one (or the log) sees', () => {
    const bus = new EventBus();
    bus.errors$.subscribe(() => {});
    bus.on('vandal', (e) => {
      (e.payload as { text: string }).text = 'changed';
    });
    let seen = '';
    bus.on('writer', (e) => (seen = (e.payload as { text: string }).text));
    bus.publish(draft(0, 'original'));
    expect(seen).toBe('original');
  });

  it('refuses time going backwards, a cause from the future, and invalid payloads when given a catalogue', () => {
    const bus = new EventBus({ catalogue: testCatalogue() });
    bus.publish(draft(10));
    expect(() => bus.publish(draft(9))).toThrow('publish note: time 9 goes back from 10');
    expect(() => bus.publish({ ...draft(10), cause: 5 })).toThrow(/cause must be null or the seq of an earlier event/);
    expect(() => bus.publish({ ...draft(10), payload: { text: 1 } })).toThrow('publish note@1: /payload/text: expected string');
    expect(bus.lastSeq).toBe(1);
  });

  it('completes events$ subscribers and refuses publish afterwards', () => {
    const bus = new EventBus();
    let completed = false;
    bus.events$.subscribe({ complete: () => (completed = true) });
    bus.complete();
    expect(completed).toBe(true);
    expect(() => bus.publish(draft())).toThrow('publish on a completed EventBus');
  });

  it('stops delivering to an unsubscribed subscriber, even mid-delivery', () => {
    const bus = new EventBus();
    const got: number[] = [];
    const sub = bus.on('second', (e) => got.push(e.seq));
    bus.on('first-unsubscribes', () => sub.unsubscribe());
    bus.publish(draft());
    bus.publish(draft());
    expect(got).toEqual([1]);
  });

  it('works with RxJS operators on events$', async () => {
    const { filter, map, take, toArray, firstValueFrom } = await import('rxjs');
    const bus = new EventBus();
    const p = firstValueFrom(bus.events$.pipe(filter((e) => e.seq % 2 === 0), map((e) => e.seq), take(2), toArray()));
    for (let i = 0; i < 6; i++) bus.publish(draft());
    expect(await p).toEqual([2, 4]);
  });

  it('property: every subscriber sees every event exactly once, in seq order, whatever throws or re-publishes', () => {
    const plan = fc.record({
      subscribers: fc.array(fc.record({ throwsOn: fc.integer({ min: 0, max: 7 }), republishOn: fc.integer({ min: 0, max: 7 }) }), {
        minLength: 1,
        maxLength: 6,
      }),
      publishes: fc.integer({ min: 1, max: 30 }),
    });
    fc.assert(
      fc.property(plan, ({ subscribers, publishes }) => {
        const bus = new EventBus();
        bus.errors$.subscribe(() => {});
        const seen: number[][] = subscribers.map(() => []);
        let extra = 0;
        subscribers.forEach((s, i) => {
          bus.on(`s${i}`, (e: EventEnvelope) => {
            seen[i]!.push(e.seq);
            if (s.republishOn > 0 && e.seq % s.republishOn === 0 && extra < 20) {
              extra++;
              bus.publish({ ...draft(), cause: e.seq });
            }
            if (s.throwsOn > 0 && e.seq % s.throwsOn === 0) throw new Error('x');
          });
        });
        for (let i = 0; i < publishes; i++) bus.publish(draft());
        const all = Array.from({ length: bus.lastSeq }, (_, i) => i + 1);
        for (const s of seen) expect(s).toEqual(all);
      }),
      { numRuns: 200 },
    );
  }, 30_000);
});
