import { describe, expect, it } from 'vitest';
import { entityKeys, hashSlot } from './keys.ts';

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

  it("puts every key of an entity in the entity's slot", () => {
    const k = entityKeys('txmon', 'account', 'acc-42');
    expect(new Set([k.state, k.tx('a'), k.tx('tx-9')].map(hashSlot)).size).toBe(1);
    const c = entityKeys('txmon', 'card', 'acc-42');
    expect(hashSlot(c.state)).toBe(hashSlot(c.tx('a')));
    // Same id, other kind: another tag, so (almost always) another slot; never the same key.
    expect(c.state).not.toBe(k.state);
    expect(k.state).toBe('txmon:{a:acc-42}:st');
  });
});
