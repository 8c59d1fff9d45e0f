import { describe, expect, it } from 'vitest';
import { newKey, parseKey } from './api-keys.ts';

describe('API keys', () => {
  it('are txk_<12 hex id>_<43 base64url secret>, unique, and parse back to their id', () => {
    const a = newKey();
    const b = newKey();
    expect(a.key).toMatch(/^txk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(a.key).not.toBe(b.key);
    expect(parseKey(a.key)?.keyId).toBe(a.keyId);
    // Only a hash of the secret is kept, never the secret or the key.
    expect(a.secretSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.key).not.toContain(a.secretSha256);
  });

  it('anything else is not a key', () => {
    for (const k of [
      '',
      'txk_',
      'Bearer x',
      'txk_0123456789ab_short',
      `txk_0123456789AB_${'a'.repeat(43)}`,
      `txk_0123456789ab_${'a'.repeat(44)}`,
    ])
      expect(parseKey(k), k).toBeNull();
  });
});
