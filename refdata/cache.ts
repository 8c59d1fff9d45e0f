/**
 * In-process reference-data cache: LRU with TTL (lru-cache), filled a batch at a time with one
 * query per table for the keys it misses, so enrichment does no per-record I/O. Entries expire
 * after the TTL and are re-read, so reloaded reference data takes effect without a restart.
 */
import { LRUCache } from 'lru-cache';
import type { RowDataPacket } from 'mysql2/promise';
import { lookupBin } from '../domain/enrich.ts';
import type { Pool } from '../platform/mysql.ts';

export interface AccountRef {
  openedAt: number;
  homeCountry: string;
  riskTier: 'LOW' | 'MEDIUM' | 'HIGH';
  timeZone: string;
}

export interface MerchantRef {
  mcc: string;
  country: string;
  riskTier: 'LOW' | 'MEDIUM' | 'HIGH';
}

/** Effective-dated FX rates of one currency pair, oldest first (decimal strings, exact). */
export type FxHistory = ReadonlyArray<{ validFrom: number; rate: string }>;

/** A query that takes longer fails (and the batch is retried) instead of stalling the partition. */
const QUERY_TIMEOUT_MS = 30_000;

/** A cached "not in the reference data" answer, so unknown keys are not queried again each batch. */
const MISSING = Symbol('missing');
type Cached<T> = T | typeof MISSING;

export interface RefdataCacheOptions {
  maxEntries?: number;
  ttlMs?: number;
}

/**
 * An LRU cache of at most `entries` entries, each kept at most `ttlMs`, whose storage grows with its
 * use. lru-cache's `max` preallocates seven arrays of `max` slots whatever the cache then holds:
 * ~8.7 MB of live heap for each of the 200,000-entry account and merchant caches (a heap snapshot of
 * the ingest in the bench, which uses 2,000 accounts), and the heap's growing factor multiplies that
 * in the RSS. A size of 1 per entry bounds the count the same way (`maxSize`) without it.
 */
export function boundedCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(
  entries: number,
  ttlMs: number,
): LRUCache<K, V> {
  return new LRUCache<K, V>({ maxSize: entries, sizeCalculation: () => 1, ttl: ttlMs });
}

export class RefdataCache {
  private readonly accounts: LRUCache<string, Cached<AccountRef>>;
  private readonly merchants: LRUCache<string, Cached<MerchantRef>>;
  private readonly fx: LRUCache<string, FxHistory>;
  /** The whole BIN table (small: one row per issuer range), re-read once it is older than the TTL. */
  private bins: { map: ReadonlyMap<string, string>; loadedAt: number } | null = null;
  private readonly ttlMs: number;

  constructor(
    private readonly pool: Pool,
    opts: RefdataCacheOptions = {},
  ) {
    const entries = opts.maxEntries ?? 200_000;
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.accounts = boundedCache(entries, this.ttlMs);
    this.merchants = boundedCache(entries, this.ttlMs);
    this.fx = boundedCache(10_000, this.ttlMs);
  }

  /** Loads whatever of these keys is not cached: at most one query per table. */
  async prefetch(keys: {
    accounts: Iterable<string>;
    merchants: Iterable<string>;
    fxPairs: Iterable<[string, string]>;
  }): Promise<void> {
    const accounts = [...new Set(keys.accounts)].filter((k) => !this.accounts.has(k));
    const merchants = [...new Set(keys.merchants)].filter((k) => !this.merchants.has(k));
    const pairs = [...new Map([...keys.fxPairs].map((p) => [`${p[0]}/${p[1]}`, p])).values()].filter(
      ([c, b]) => !this.fx.has(`${c}/${b}`),
    );
    if (accounts.length > 0) {
      const [rows] = await this.pool.query<RowDataPacket[]>({
        sql: 'SELECT account_id, opened_at, home_country, risk_tier, time_zone FROM ref_accounts WHERE account_id IN (?)',
        values: [accounts],
        timeout: QUERY_TIMEOUT_MS,
      });
      const found = new Set<string>();
      for (const r of rows) {
        found.add(r.account_id as string);
        this.accounts.set(r.account_id as string, {
          openedAt: (r.opened_at as Date).getTime(),
          homeCountry: r.home_country as string,
          riskTier: r.risk_tier as AccountRef['riskTier'],
          timeZone: r.time_zone as string,
        });
      }
      for (const k of accounts) if (!found.has(k)) this.accounts.set(k, MISSING);
    }
    if (merchants.length > 0) {
      const [rows] = await this.pool.query<RowDataPacket[]>({
        sql: 'SELECT merchant_id, mcc, country, risk_tier FROM ref_merchants WHERE merchant_id IN (?)',
        values: [merchants],
        timeout: QUERY_TIMEOUT_MS,
      });
      const found = new Set<string>();
      for (const r of rows) {
        found.add(r.merchant_id as string);
        this.merchants.set(r.merchant_id as string, {
          mcc: r.mcc as string,
          country: r.country as string,
          riskTier: r.risk_tier as MerchantRef['riskTier'],
        });
      }
      for (const k of merchants) if (!found.has(k)) this.merchants.set(k, MISSING);
    }
    if (pairs.length > 0) {
      const [rows] = await this.pool.query<RowDataPacket[]>({
        sql: 'SELECT currency, base_currency, valid_from, CAST(rate AS CHAR) AS rate FROM ref_fx_rates WHERE (currency, base_currency) IN (?) ORDER BY valid_from',
        values: [pairs],
        timeout: QUERY_TIMEOUT_MS,
      });
      const byPair = new Map<string, Array<{ validFrom: number; rate: string }>>(pairs.map(([c, b]) => [`${c}/${b}`, []]));
      for (const r of rows)
        byPair
          .get(`${r.currency}/${r.base_currency}`)
          ?.push({ validFrom: (r.valid_from as Date).getTime(), rate: trimRate(r.rate as string) });
      for (const [k, v] of byPair) this.fx.set(k, v);
    }
  }

  /** Loads the BIN table when it is not cached or older than the TTL: one query. */
  async prefetchBins(): Promise<void> {
    if (this.bins && Date.now() - this.bins.loadedAt < this.ttlMs) return;
    const [rows] = await this.pool.query<RowDataPacket[]>({
      sql: 'SELECT bin, issuing_country FROM ref_card_bins',
      timeout: QUERY_TIMEOUT_MS,
    });
    this.bins = { map: new Map(rows.map((r) => [r.bin as string, r.issuing_country as string])), loadedAt: Date.now() };
  }

  /** Issuing country of a card BIN (longest matching prefix of 8 to 6 digits), or undefined. */
  binCountry(bin: string): string | undefined {
    return this.bins ? lookupBin(this.bins.map, bin) : undefined;
  }

  account(id: string): AccountRef | undefined {
    const v = this.accounts.get(id);
    return v === MISSING ? undefined : v;
  }

  merchant(id: string): MerchantRef | undefined {
    const v = this.merchants.get(id);
    return v === MISSING ? undefined : v;
  }

  /** The rate valid at `at` (the latest with validFrom <= at), or undefined. */
  fxRate(currency: string, base: string, at: number): string | undefined {
    return rateAt(this.fx.get(`${currency}/${base}`) ?? [], at);
  }
}

/** The latest rate of an oldest-first history that is valid at `at`. */
export function rateAt(history: FxHistory, at: number): string | undefined {
  let found: string | undefined;
  for (const h of history) {
    if (h.validFrom > at) break;
    found = h.rate;
  }
  return found;
}

/** "1.0834500000" -> "1.08345": DECIMAL(24,10) comes back padded. */
function trimRate(rate: string): string {
  return rate.includes('.') ? rate.replace(/0+$/, '').replace(/\.$/, '') : rate;
}
