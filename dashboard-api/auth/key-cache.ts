/**
 * Cached key verification. A verified key is trusted for `positiveMs` (a revocation takes that
 * long); a key that failed (unknown id, revoked, wrong secret) is remembered as failed for
 * `negativeMs`, so a client repeating a bad key does not reach MySQL per request. Both caches are
 * LRU-bounded and keyed by the whole presented key, so a forged secret for a real key id never
 * shadows the real key. Strings not shaped like a key are refused without a lookup.
 */
import { LRUCache } from 'lru-cache';
import { parseKey, type Principal } from './api-keys.ts';

export class KeyVerifier<P extends Principal = Principal> {
  private readonly good: LRUCache<string, P> | null;
  private readonly bad: LRUCache<string, true> | null;
  /** Lookups in flight, so concurrent requests with one key share one. */
  private readonly inflight = new Map<string, Promise<P | null>>();
  private readonly shaped: (key: string) => boolean;
  private readonly positiveMs: number;
  private readonly untilOf: ((principal: P) => number) | undefined;

  /**
   * `shaped`: whether a string is worth a look-up (default: an API key's shape); `until`: the epoch ms
   * after which a verified principal must not be trusted from the cache (a session's expiry).
   */
  constructor(
    private readonly lookup: (key: string) => Promise<P | null>,
    opts: {
      positiveMs: number;
      negativeMs: number;
      max?: number;
      shaped?: (key: string) => boolean;
      until?: (principal: P) => number;
    },
  ) {
    const max = opts.max ?? 10_000;
    this.shaped = opts.shaped ?? ((key) => parseKey(key) !== null);
    this.positiveMs = opts.positiveMs;
    this.untilOf = opts.until;
    this.good = opts.positiveMs > 0 ? new LRUCache({ max, ttl: opts.positiveMs }) : null;
    this.bad = opts.negativeMs > 0 ? new LRUCache({ max, ttl: opts.negativeMs }) : null;
  }

  /** The principal of `key` if it verified within the positive period, else undefined (no lookup). */
  cached(key: string): P | undefined {
    return this.good?.get(key);
  }

  /** The principal of `key`, or null when it is not a valid, active key. */
  async verify(key: string): Promise<P | null> {
    if (!this.shaped(key)) return null;
    const hit = this.good?.get(key);
    if (hit) return hit;
    if (this.bad?.has(key)) return null;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const principal = await pending;
    if (principal) {
      const left = this.untilOf ? this.untilOf(principal) - Date.now() : this.positiveMs;
      if (left > 0) this.good?.set(key, principal, { ttl: Math.min(this.positiveMs, left) });
    } else this.bad?.set(key, true);
    return principal;
  }

  /** Forgets `key` at once (a session signed out here must not verify from the cache). */
  forget(key: string): void {
    this.good?.delete(key);
    this.bad?.set(key, true);
  }
}
