/**
 * add_memory's auto-online step and offline_and_remove_memory (apps/docs/kernel/hotplug.md#add-steps step 15, apps/docs/kernel/hotplug.md#removal), run through the
 * registry's `block_state` handler (part B's online/offline).
 */
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { GiB, MiB, small } from './support/machines.js';
import { modelOf, sim } from './support/raw.js';

const range = (gib: bigint, blocks: bigint) => ({ startBytes: gib * GiB, sizeBytes: blocks * 128n * MiB });
const add = (s: Simulator, blocks = 2n) => s.exec({ kind: 'add_memory', node: 0, range: range(8n, blocks), flags: [] });

describe('auto-online after add_memory', () => {
  it('onlines every new block with memhp_default_state and still returns 0', () => {
    const s = sim(small(4, '6.18', 'memhp_default_state=online_movable'));
    expect(add(s).ok).toBe(true);
    expect([64, 65].map((id) => [s.state.blocks.get(id)?.state, s.state.blocks.get(id)?.zone])).toEqual([
      ['online', 'Movable'],
      ['online', 'Movable'],
    ]);
    // remove_memory refuses online memory (apps/docs/kernel/hotplug.md#removal step 2)
    expect(s.exec({ kind: 'remove_memory', range: range(8n, 2n) })).toMatchObject({ ok: false, errno: 'EBUSY' });
  });

  it('ignores an online failure: the add returns 0 and the block stays offline', () => {
    const s = sim(small(4, '6.18', 'memhp_default_state=online'), { faults: { sites: { 'notifier:MEM_GOING_ONLINE': { nth: [1] } } } });
    expect(add(s).ok).toBe(true);
    expect([s.state.blocks.get(64)?.state, s.state.blocks.get(65)?.state]).toEqual(['offline', 'online']);
  });
});

describe('offline_and_remove_memory', () => {
  it('offlines online blocks, removes the range, and leaves the machine as it was after boot', () => {
    const s = sim(small(4, '6.18', 'memhp_default_state=online_movable'));
    add(s);
    expect(s.exec({ kind: 'offline_and_remove_memory', range: range(8n, 2n) }).ok).toBe(true);
    const { nodes, ...rest } = modelOf(s.state);
    const { nodes: freshNodes, ...fresh } = modelOf(sim(small(4, '6.18', 'memhp_default_state=online_movable')).state);
    expect(rest).toEqual(fresh);
    // ZONE_MOVABLE stays as an empty zone (struct zone always exists; only its span and counters went back to 0)
    expect(nodes.get(0)!.zones.get('Movable')).toMatchObject({ spannedPages: 0, presentPages: 0, managedPages: 0 });
    nodes.get(0)!.zones.delete('Movable');
    expect(nodes).toEqual(freshNodes);
  });

  it('re-onlines what it offlined, with the remembered type, when a later block cannot be offlined', () => {
    const s = sim(small(4, '6.18', 'memhp_default_state=online_movable'), { faults: { sites: { 'offline:unmovable': { nth: [2] } } } });
    add(s);
    const r = s.exec({ kind: 'offline_and_remove_memory', range: range(8n, 2n) });
    expect(r).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect([64, 65].map((id) => [s.state.blocks.get(id)?.state, s.state.blocks.get(id)?.zone])).toEqual([
      ['online', 'Movable'],
      ['online', 'Movable'],
    ]);
  });

  it('rejects a range that is not block-aligned with -EINVAL', () => {
    expect(sim(small(4)).exec({ kind: 'offline_and_remove_memory', range: { startBytes: 8n * GiB, sizeBytes: 64n * MiB } })).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
  });
});
