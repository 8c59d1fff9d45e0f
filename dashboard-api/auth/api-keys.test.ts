import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../platform/errors.ts';
import { checkName, newKey, parseKey, printable } from './api-keys.ts';

/** Control, format (bidi overrides and isolates, zero-width), line and paragraph separators. */
const SPOOFING = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

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

describe('key names', () => {
  it('are names people and services have', () => {
    for (const n of ['alice', 'Jörg Müller', 'grafana-prod', 'ops@bank.example', "O'Brien", 'svc/recon:2', '李小龙', 'नमस्ते'])
      expect(checkName(n)).toBe(n.normalize('NFC'));
  });

  it('refuse control, format and bidi characters, parentheses and stray spaces, saying what a name may be', () => {
    for (const n of [
      '',
      ' alice',
      'alice ',
      'a  b',
      'alice\nbob (key 0123456789ab) apikey.revoke',
      'alice\r',
      'alice\t',
      'alice\u001b[2K',
      'admin\u202egnp.exe',
      'ad\u200bmin',
      'ad\u2066min\u2069',
      'a\u2028b',
      'bob (key 0123456789ab)',
      'x'.repeat(101),
    ]) {
      expect(() => checkName(n), JSON.stringify(n)).toThrow(InputError);
    }
    expect(() => checkName('a\u202eb')).toThrow(/\\u\{202e\}/);
  });

  it('no accepted name holds a spoofing character; printing any stored name leaves none', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        let accepted: string | null = null;
        try {
          accepted = checkName(s);
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
        }
        if (accepted !== null) expect(accepted).not.toMatch(SPOOFING);
        expect(printable(s)).not.toMatch(SPOOFING);
        expect(printable(s)).not.toMatch(/[()]/);
      }),
      { numRuns: 2_000 },
    );
  });
});
