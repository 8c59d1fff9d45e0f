/**
 * Cached key verification. A verified key is trusted for `positiveMs` (a revocation takes that
 * long); a key that failed (unknown id, revoked, wrong secret) is remembered as failed for
 * `negativeMs`, so a client repeating a bad key does not reach MySQL per request. Both caches are
 * LRU-bounded and keyed by the whole presented key, so a forged secret for a real key id never
 * shadows the real key. Strings not shaped like a key are refused without a lookup.
 */
import { LRUCache } from 'lru-cache';
import { parseKey, type Principal } from './api-keys.ts';

export class KeyVerifier {
  private readonly good: LRUCache<string, Principal> | null;
  private readonly bad: LRUCache<string, true> | null;
  /** Lookups in flight, so concurrent requests with one key share one. */
  private readonly inflight = new Map<string, Promise<Principal | null>>();

  constructor(
    private readonly lookup: (key: string) => Promise<Principal | null>,
    opts: { positiveMs: number; negativeMs: number; max?: number },
  ) {
    const max = opts.max ?? 10_000;
    this.good = opts.positiveMs > 0 ? new LRUCache({ max, ttl: opts.positiveMs }) : null;
    this.bad = opts.negativeMs > 0 ? new LRUCache({ max, ttl: opts.negativeMs }) : null;
  }

  /** The principal of `key` if it verified within the positive period, else undefined (no lookup). */
  cached(key: string): Principal | undefined {
    return this.good?.get(key);
  }

  /** The principal of `key`, or null when it is not a valid, active key. */
  async verify(key: string): Promise<Principal | null> {
    if (parseKey(key) === null) return null;
    const hit = this.good?.get(key);
    if (hit) return hit;
    if (this.bad?.has(key)) return null;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const principal = await pending;
    if (principal) this.good?.set(key, principal);
    else this.bad?.set(key, true);
    return principal;
  }
}
