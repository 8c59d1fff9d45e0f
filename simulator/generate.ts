/**
 * The synthetic transaction stream, as pure logic: given the options it yields the same events every
 * time. Encoding (registry framing, Avro) happens only for the undecodable records it fabricates.
 */
import { isKnownCurrency } from '../domain/currencies.ts';
import { ConfigError, TxmonError } from '../platform/errors.ts';
import { avroEncoder, HEADER_BYTES } from './codec.ts';
import { MEAN_EPISODE_LENGTH, startEpisode, type Episode, type Purchase } from './fraud.ts';
import { Rng } from '../domain/rng.ts';
import {
  FRAUD_LABELS,
  type FraudLabel,
  type SimEvent,
  type SimOptions,
  type Timing,
  type Transaction,
  type TransactionEncoder,
  type TransactionType,
} from './types.ts';
import { buildWorld, minorFromUsd, roundMinorFromUsd, type World } from './world.ts';

export type { FraudLabel, SimEvent, SimOptions, Transaction } from './types.ts';

export { DEFAULT_SIM_OPTIONS } from './types.ts';

/** A duplicate is due at most this many records after its original. */
export const DUPLICATE_MAX_LAG = 1_000;

/**
 * Upper bound of `seq - of` for every duplicate: a consumer caching the last DUPLICATE_WINDOW records
 * can always re-send the original bytes. Lags are at most DUPLICATE_MAX_LAG; the slack covers
 * duplicates that fall due together.
 */
export const DUPLICATE_WINDOW = 4 * DUPLICATE_MAX_LAG;

/** Out-of-order events are at most this much earlier than the stream, in ms. */
export const MAX_OUT_OF_ORDER_MS = 3_000;
const HOUR_MS = 3_600_000;
/** 2100-01-01T00:00:00Z: event times of the 'event_time_in_future' invalid records start here. */
const FAR_FUTURE_MS = 4_102_444_800_000;

/** Reasons of the semantically invalid transactions (the validator's dead-letter reasons should map to these). */
export const INVALID_REASONS = [
  'amount_not_positive',
  'unknown_currency',
  'empty_account_id',
  'event_time_in_future',
  'card_token_is_pan',
  'bad_mcc',
] as const;

/** Reasons of the undecodable records. */
export const BAD_BYTES_REASONS = ['garbage', 'wrong_magic_byte', 'truncated_avro'] as const;

/** Luhn-valid test card numbers: what a raw PAN leaking into card_token looks like. */
const TEST_PANS = ['4111111111111111', '5555555555554444', '4012888888881881', '5105105105105100', '4242424242424242'];

/** Share of normal transactions that follow up an earlier authorization. */
const CHILD_SHARE = 0.15;
/** Authorizations kept as candidate parents of captures, refunds and reversals. */
const PARENT_POOL = 5_000;
/** A capture, refund or reversal is at least this much later than its authorization (event-time ms). */
const MIN_FOLLOW_UP_MS = 30_000;

/** Share of merchants that settle an account's purchases of a day under one reference. */
const BATCH_SETTLING_SHARE = 0.05;
const BATCH_REFERENCE_PREFIX = 'ord-';

/**
 * Whether the merchant settles in batches (N:1 references). Decided by a hash of its id, not by the
 * stream's rng, so it neither shifts the stream's draws nor depends on the world's size.
 */
export function isBatchSettling(merchantId: string): boolean {
  // FNV-1a, then murmur3's finalizer: FNV alone leaves the high bits of ids this alike clustered.
  let h = 0x811c9dc5;
  for (let i = 0; i < merchantId.length; i++) h = Math.imul(h ^ merchantId.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h < BATCH_SETTLING_SHARE * 2 ** 32;
}

/**
 * `ord-<merchant>-<account>-<YYYYMMDD>` (UTC day of the event time): one account's purchases at a
 * batch-settling merchant on one day. Simulated ids (`mer-`/`acc-` + at least 6 digits) keep it far
 * below the 64 characters a reference may have.
 */
export function batchReference(merchantId: string, accountId: string, eventTime: number): string {
  const day = new Date(eventTime).toISOString().slice(0, 10).replaceAll('-', '');
  return `${BATCH_REFERENCE_PREFIX}${merchantId}-${accountId}-${day}`;
}

/** Throws a ConfigError naming the first option out of range. */
export function validateSimOptions(opts: SimOptions): void {
  const fail = (name: string, want: string, got: unknown): never => {
    throw new ConfigError(`simulate: option ${name} must be ${want}, got ${JSON.stringify(got)}`);
  };
  if (!Number.isSafeInteger(opts.seed)) fail('seed', 'a safe integer', opts.seed);
  if (!Number.isSafeInteger(opts.count) || opts.count < 0) fail('count', 'a non-negative integer', opts.count);
  for (const name of ['accounts', 'merchants', 'cardsPerAccount', 'devicesPerAccount'] as const) {
    if (!Number.isSafeInteger(opts[name]) || opts[name] < 1) fail(name, 'a positive integer', opts[name]);
  }
  if (opts.currencies.length === 0) fail('currencies', 'a non-empty list', opts.currencies);
  for (const c of opts.currencies) if (!isKnownCurrency(c)) fail('currencies', 'ISO 4217 codes', c);
  if (!Number.isFinite(opts.startTime)) fail('startTime', 'epoch milliseconds', opts.startTime);
  if (!(opts.eventsPerSecondOfEventTime > 0) || !Number.isFinite(opts.eventsPerSecondOfEventTime)) {
    fail('eventsPerSecondOfEventTime', 'a positive number', opts.eventsPerSecondOfEventTime);
  }
  for (const name of ['duplicateRate', 'outOfOrderRate', 'lateRate', 'malformedRate', 'fraudRate'] as const) {
    if (!(opts[name] >= 0 && opts[name] <= 1)) fail(name, 'a rate in [0, 1]', opts[name]);
  }
  if (opts.outOfOrderRate + opts.lateRate > 1)
    fail('outOfOrderRate + lateRate', 'at most 1', opts.outOfOrderRate + opts.lateRate);
}

/** Stream state shared by the builders below. */
class Stream {
  readonly rng: Rng;
  readonly world: World;
  private readonly parents: Transaction[] = [];
  private extras = 0;
  private encoder: TransactionEncoder | undefined;

  constructor(
    readonly opts: SimOptions,
    encode: TransactionEncoder | undefined,
  ) {
    this.rng = new Rng(opts.seed);
    this.world = buildWorld(opts, this.rng);
    this.encoder = encode;
  }

  encode(tx: Transaction): Buffer {
    // Only the fabricated bad records need bytes; load the schema only if nobody passed an encoder.
    this.encoder ??= avroEncoder(1);
    return this.encoder(tx);
  }

  /** Id of the n-th original transaction, or of the next extra (undecodable) record when n is null. */
  id(n: number | null): string {
    return n === null ? `tx-${this.opts.seed}-x${this.extras++}` : `tx-${this.opts.seed}-${n}`;
  }

  fromPurchase(id: string, p: Purchase, eventTime: number): Transaction {
    const located = p.channel === 'POS' || p.channel === 'ATM';
    return {
      transaction_id: id,
      idempotency_key: `idem-${this.rng.hex(24)}`,
      type: 'AUTHORIZATION',
      account_id: p.account.id,
      card_token: p.card.token,
      card_last4: p.card.last4,
      card_bin: p.card.bin,
      merchant_id: p.merchant.id,
      mcc: p.merchant.profile.mcc,
      merchant_country: p.merchant.country,
      amount_minor: p.amountMinor,
      currency: p.currency,
      event_time: eventTime,
      channel: p.channel,
      device_id: p.deviceId,
      ip_country: p.ipCountry,
      reference: this.reference(id, p, eventTime),
      parent_transaction_id: null,
      latitude: located ? p.merchant.latitude : null,
      longitude: located ? p.merchant.longitude : null,
    };
  }

  /**
   * An authorization's reference. Some upstreams leave it out (reconciliation then falls back to
   * transaction_id); batch-settling merchants name the account's orders of the day, so several
   * purchases share one reference (N:1). The null chance is drawn either way, so batching leaves
   * every other draw of the stream where it was.
   */
  private reference(id: string, p: Purchase, eventTime: number): string | null {
    const omitted = this.rng.chance(0.05);
    if (isBatchSettling(p.merchant.id)) return batchReference(p.merchant.id, p.account.id, eventTime);
    return omitted ? null : `ref-${id.slice(3)}`;
  }

  /** An ordinary customer purchase. */
  purchase(): Purchase {
    const { rng, world } = this;
    const account = world.activeAccounts.pick(rng);
    const card =
      account.cards.length > 1 && rng.chance(0.3) ? rng.pick(account.cards) : (account.cards[0] ?? rng.pick(account.cards));
    const local = world.merchantsByCountry.get(account.country);
    let merchant = local && rng.chance(0.9) ? rng.pick(local) : rng.pick(world.merchants);
    const channel = rng.pick(merchant.profile.channels);
    // Customers shop abroad online; in person they are at home (a traveller would be the
    // exception, and two countries within an hour is what the impossible-travel rule is for).
    if (local && merchant.country !== account.country && (channel === 'POS' || channel === 'ATM')) {
      const here = local.filter((m) => m.profile.channels.includes(channel));
      if (here.length > 0) merchant = rng.pick(here);
    }
    const merchantCurrency = world.countryCurrency.get(merchant.country);
    const currency =
      merchant.country !== account.country && merchantCurrency !== undefined && rng.chance(0.5)
        ? merchantCurrency
        : account.currency;
    const usd = account.typicalUsd * merchant.profile.spend;
    const amountMinor =
      channel === 'ATM'
        ? roundMinorFromUsd(usd * rng.lognormal(0, 0.4), currency, 20)
        : minorFromUsd(usd * rng.lognormal(0, 0.7), currency);
    const online = channel === 'ECOMMERCE';
    return {
      account,
      card,
      merchant,
      channel,
      amountMinor,
      currency,
      deviceId: online ? rng.pick(account.devices) : null,
      ipCountry: online ? (rng.chance(0.97) ? account.country : merchant.country) : null,
    };
  }

  /** A normal transaction: mostly authorizations, some captures/refunds/reversals of an earlier one. */
  normal(id: string, eventTime: number, allowChild: boolean): Transaction {
    const { rng } = this;
    const i = allowChild && this.parents.length > 0 && rng.chance(CHILD_SHARE) ? rng.int(0, this.parents.length - 1) : -1;
    const parent = this.parents[i];
    // Follow-ups come a while after their authorization, not in the same instant.
    if (parent !== undefined && parent.event_time <= eventTime - MIN_FOLLOW_UP_MS) {
      // Each authorization is followed up at most once.
      this.parents[i] = this.parents[this.parents.length - 1] as Transaction;
      this.parents.pop();
      const r = rng.next();
      const type: TransactionType = r < 0.5 ? 'CAPTURE' : r < 0.8 ? 'REFUND' : 'REVERSAL';
      const amount = type === 'REFUND' ? Math.max(1, Math.floor(parent.amount_minor * rng.float(0.2, 1))) : parent.amount_minor;
      return {
        ...parent,
        transaction_id: id,
        idempotency_key: `idem-${rng.hex(24)}`,
        type,
        amount_minor: amount,
        event_time: eventTime,
        reference: rng.chance(0.05) ? null : `ref-${id.slice(3)}`,
        parent_transaction_id: parent.transaction_id,
      };
    }
    return this.fromPurchase(id, this.purchase(), eventTime);
  }

  /** Remembers a valid authorization as a possible parent. */
  rememberAuth(tx: Transaction): void {
    if (tx.type !== 'AUTHORIZATION') return;
    if (this.parents.length < PARENT_POOL) this.parents.push(tx);
    else this.parents[this.rng.int(0, PARENT_POOL - 1)] = tx;
  }

  invalid(n: number, eventTime: number): SimEvent {
    const { rng } = this;
    const tx = this.normal(this.id(n), eventTime, false);
    const reason = rng.pick(INVALID_REASONS);
    switch (reason) {
      case 'amount_not_positive':
        tx.amount_minor = rng.chance(0.5) ? 0 : -tx.amount_minor;
        break;
      case 'unknown_currency':
        tx.currency = 'ZZZ';
        break;
      case 'empty_account_id':
        tx.account_id = '';
        break;
      case 'event_time_in_future':
        // Far ahead of any real produce time: txmon validates event time against the Kafka record
        // timestamp (not the wall clock), and the simulator's event times are in the past.
        tx.event_time = FAR_FUTURE_MS + (eventTime % (24 * HOUR_MS));
        break;
      case 'card_token_is_pan': {
        const pan = rng.pick(TEST_PANS);
        tx.card_token = pan;
        tx.card_last4 = pan.slice(-4);
        break;
      }
      case 'bad_mcc':
        tx.mcc = '12a';
        break;
    }
    return { kind: 'invalid', tx, reason };
  }

  badBytes(eventTime: number): SimEvent {
    const { rng } = this;
    const tx = this.normal(this.id(null), eventTime, false);
    const reason = rng.pick(BAD_BYTES_REASONS);
    switch (reason) {
      case 'garbage': {
        const value = Buffer.alloc(rng.int(1, 120));
        for (let i = 0; i < value.length; i++) value[i] = rng.int(0, 255);
        value[0] = rng.int(1, 255); // never the registry's magic byte
        return { kind: 'bad-bytes', key: rng.chance(0.5) ? null : tx.account_id, value, reason };
      }
      case 'wrong_magic_byte': {
        const value = Buffer.from(this.encode(tx));
        value[0] = rng.int(1, 255);
        return { kind: 'bad-bytes', key: tx.account_id, value, reason };
      }
      case 'truncated_avro': {
        const full = this.encode(tx);
        const value = Buffer.from(full.subarray(0, rng.int(HEADER_BYTES, full.length - 1)));
        return { kind: 'bad-bytes', key: tx.account_id, value, reason };
      }
    }
  }

  unknownSchema(eventTime: number): SimEvent {
    const tx = this.normal(this.id(null), eventTime, false);
    return { kind: 'unknown-schema', key: tx.account_id, payloadOf: tx };
  }
}

interface PendingDuplicate {
  due: number;
  of: number;
}

/**
 * Yields the simulated stream for the options, identical for identical options. `encode` frames the
 * fabricated wrong-magic and truncated records; pass the production encoder so their header carries
 * the real schema id (defaults to avroType('transaction') under schema id 1).
 */
export function* generateEvents(opts: SimOptions, encode?: TransactionEncoder): Generator<SimEvent> {
  validateSimOptions(opts);
  const s = new Stream(opts, encode);
  const { rng } = s;
  const meanGapMs = 1000 / opts.eventsPerSecondOfEventTime;
  const episodeStart = opts.fraudRate / MEAN_EPISODE_LENGTH;
  const episodes: Episode[] = [];
  let nextPattern = rng.int(0, FRAUD_LABELS.length - 1);
  const pending: PendingDuplicate[] = []; // sorted by due
  let seq = 0;
  let clock = opts.startTime;
  let lastInOrder = opts.startTime;

  const duplicate = (of: number): SimEvent => {
    if (seq - of > DUPLICATE_WINDOW)
      throw new TxmonError('INVARIANT_BROKEN', `duplicate of ${of} at ${seq} is beyond DUPLICATE_WINDOW`);
    return { kind: 'duplicate', of };
  };

  const scheduleDuplicate = (of: number): void => {
    if (!rng.chance(opts.duplicateRate)) return;
    const due = of + rng.int(1, DUPLICATE_MAX_LAG);
    let i = pending.length;
    while (i > 0 && (pending[i - 1] as PendingDuplicate).due > due) i--;
    pending.splice(i, 0, { due, of });
  };

  for (let n = 0; n < opts.count; n++) {
    // The next ordinary purchase's time. A fraud purchase due before it comes first, at its own
    // time, and moves the clock only up to that time: episodes keep their pace (seconds apart)
    // whatever the background rate.
    const candidate = n > 0 ? clock + rng.exponential(meanGapMs) : clock;
    const now = Math.floor(candidate);

    while (pending.length > 0 && (pending[0] as PendingDuplicate).due <= seq) {
      yield duplicate((pending.shift() as PendingDuplicate).of);
      seq++;
    }

    if (episodeStart > 0 && rng.chance(episodeStart)) {
      const label = FRAUD_LABELS[nextPattern++ % FRAUD_LABELS.length] as FraudLabel;
      episodes.push(startEpisode(label, s.world, rng, now));
    }
    const episodeIndex = episodes.findIndex((e) => e.nextTime <= now);
    const episode = episodes[episodeIndex];
    if (episode) {
      const at = Math.max(episode.nextTime, lastInOrder);
      const tx = s.fromPurchase(s.id(n), episode.next(rng, at), at);
      if (episode.remaining <= 0) episodes.splice(episodeIndex, 1);
      yield { kind: 'valid', tx, label: episode.label };
      scheduleDuplicate(seq++);
      lastInOrder = at;
      clock = Math.max(clock, at);
      continue;
    }
    clock = candidate;

    if (rng.chance(opts.malformedRate)) {
      const which = rng.int(0, 2);
      if (which === 0) {
        // A semantically invalid transaction takes this slot.
        yield s.invalid(n, now);
        seq++;
        continue;
      }
      // An undecodable record comes on top of this slot's transaction.
      yield which === 1 ? s.badBytes(now) : s.unknownSchema(now);
      seq++;
    }

    const r = rng.next();
    const timing: Timing | undefined =
      n === 0 ? undefined : r < opts.lateRate ? 'late' : r < opts.lateRate + opts.outOfOrderRate ? 'out_of_order' : undefined;
    // Only authorizations are displaced in time, so a follow-up never precedes its authorization.
    const tx = s.normal(s.id(n), now, timing === undefined);
    if (timing === 'late') tx.event_time = now - rng.int(HOUR_MS, 3 * HOUR_MS);
    else if (timing === 'out_of_order') tx.event_time = lastInOrder - rng.int(1, MAX_OUT_OF_ORDER_MS);
    else lastInOrder = now;
    // A displaced authorization's batch reference names the day it really happened.
    if (timing !== undefined && tx.reference?.startsWith(BATCH_REFERENCE_PREFIX))
      tx.reference = batchReference(tx.merchant_id, tx.account_id, tx.event_time);
    s.rememberAuth(tx);
    yield timing === undefined ? { kind: 'valid', tx, label: null } : { kind: 'valid', tx, label: null, timing };
    scheduleDuplicate(seq++);
  }

  for (const d of pending) {
    yield duplicate(d.of);
    seq++;
  }
}
