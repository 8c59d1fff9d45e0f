import { describe, expect, it } from 'vitest';
import { newKey, type Principal } from './api-keys.ts';
import { KeyVerifier } from './key-cache.ts';

/** A fake key table that counts its lookups. */
function table(valid: Map<string, Principal>) {
  const calls: string[] = [];
  return {
    calls,
    lookup: async (key: string) => {
      calls.push(key);
      return valid.get(key) ?? null;
    },
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyVerifier', () => {
  it('looks a failed key up once per negative period, however often it is presented', async () => {
    const t = table(new Map());
    const v = new KeyVerifier(t.lookup, { positiveMs: 1_000, negativeMs: 150 });
    const bad = newKey().key;
    for (let i = 0; i < 50; i++) expect(await v.verify(bad)).toBeNull();
    expect(t.calls).toHaveLength(1);
    await sleep(200);
    expect(await v.verify(bad)).toBeNull();
    expect(t.calls).toHaveLength(2);
  });

  it('never looks up strings not shaped like a key; concurrent requests share one lookup', async () => {
    const good = newKey();
    const t = table(new Map([[good.key, { keyId: good.keyId, name: 'a', role: 'analyst' as const }]]));
    const v = new KeyVerifier(t.lookup, { positiveMs: 0, negativeMs: 0 });
    expect(await v.verify('txk_nope')).toBeNull();
    expect(t.calls).toHaveLength(0);
    const all = await Promise.all(Array.from({ length: 20 }, () => v.verify(good.key)));
    expect(all.every((p) => p?.keyId === good.keyId)).toBe(true);
    expect(t.calls).toHaveLength(1);
  });

  it('a forged secret for a real key id fails without shadowing the real key', async () => {
    const good = newKey();
    const t = table(new Map([[good.key, { keyId: good.keyId, name: 'victim', role: 'analyst' as const }]]));
    const v = new KeyVerifier(t.lookup, { positiveMs: 1_000, negativeMs: 1_000 });
    const forged = `txk_${good.keyId}_${'A'.repeat(43)}`;
    for (let i = 0; i < 10; i++) expect(await v.verify(forged)).toBeNull();
    expect((await v.verify(good.key))?.name).toBe('victim');
  });

  it('trusts a verified key for the positive period only', async () => {
    const good = newKey();
    const valid = new Map([[good.key, { keyId: good.keyId, name: 'a', role: 'sre' as const }]]);
    const t = table(valid);
    const v = new KeyVerifier(t.lookup, { positiveMs: 150, negativeMs: 1_000 });
    expect(await v.verify(good.key)).not.toBeNull();
    valid.clear(); // revoked
    expect(await v.verify(good.key)).not.toBeNull();
    await sleep(200);
    expect(await v.verify(good.key)).toBeNull();
  });
});
