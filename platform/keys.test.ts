import { describe, expect, it } from 'vitest';
import { accountKeys, hashSlot } from './keys.ts';

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

  it("puts every key of an account in the account's slot", () => {
    const k = accountKeys('txmon', 'acc-42');
    expect(new Set([k.dedup('a'), k.dedup('b'), k.dedup('tx-9')].map(hashSlot)).size).toBe(1);
  });
});
