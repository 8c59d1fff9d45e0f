import { describe, expect, it } from 'vitest';
import { hashSlot } from './keys.ts';
import { entityStateKey } from '../state/keys.ts';

describe('hashSlot', () => {
  it('matches Redis Cluster for known keys', () => {
    // Values from CLUSTER KEYSLOT on a cluster-enabled Redis.
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('bar')).toBe(5061);
    expect(hashSlot('hello')).toBe(866);
  });

  it('hashes only the {tag} when there is one', () => {
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('{user1000}.followers'));
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}')); // empty tag: whole key
  });

  it("puts an entity's state of every generation in the entity's slot, another kind's elsewhere", () => {
    const a0 = entityStateKey('txmon', 0, { kind: 'account', id: 'acc-42' });
    const a7 = entityStateKey('txmon', 7, { kind: 'account', id: 'acc-42' });
    const c0 = entityStateKey('txmon', 0, { kind: 'card', id: 'acc-42' });
    expect(hashSlot(a0)).toBe(hashSlot(a7));
    expect(hashSlot(a0)).toBe(hashSlot('{a:acc-42}'));
    // Same id, other kind: another tag, so (almost always) another slot; never the same key.
    expect(c0).not.toBe(a0);
  });
});
