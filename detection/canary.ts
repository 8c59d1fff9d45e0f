/**
 * Which accounts a staged rollout's candidate decides for (issue 19): each account falls in one of
 * 10,000 buckets by a hash of its id, and a rollout at a share of s basis points decides for the
 * buckets below s. Deterministic (the same account is in the canary on every process, after every
 * restart, and stays in it as the share grows), uniform over ids, and cheap per transaction. Pure.
 */

/** Buckets an account can fall in; a share is a count of them (basis points). */
export const BUCKETS = 10_000;

/** The account's bucket in [0, BUCKETS): FNV-1a over the id's UTF-16 code units, then a final mix. */
export function accountBucket(accountId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) {
    h ^= accountId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV's low bits are weak on short, similar ids (acc-1, acc-2, ...): mix before reducing.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

/** Whether a rollout at `shareBp` basis points decides for this account. */
export function inCanary(accountId: string, shareBp: number): boolean {
  return accountBucket(accountId) < shareBp;
}

/** A share given as "10%", "2.5%" or "0.1" (a fraction) in basis points; null when it is not one in (0, 100 %]. */
export function parseShare(text: string): number | null {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  const fraction = m ? Number(m[1]) / 100 : /^\d*\.?\d+$/.test(t) ? Number(t) : NaN;
  if (!(fraction > 0 && fraction <= 1)) return null;
  const bp = Math.round(fraction * BUCKETS);
  return bp >= 1 ? bp : null;
}
