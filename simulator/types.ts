/**
 * Types of the simulator: the Transaction record as in schemas/transaction.avsc, the options and the
 * events the generator yields. (Transaction is meant to move to domain/ later.)
 */

// The record type is the contract's, shared with the processors.
import type { Transaction } from '../domain/transaction.ts';
export type { Channel, Transaction, TransactionType } from '../domain/transaction.ts';

export type FraudLabel = 'card_testing' | 'account_takeover' | 'velocity' | 'merchant_collusion';

export const FRAUD_LABELS: readonly FraudLabel[] = ['card_testing', 'account_takeover', 'velocity', 'merchant_collusion'];

export interface SimOptions {
  seed: number;
  /** Number of ORIGINAL transactions (valid + semantically invalid); duplicates and undecodable records come on top. */
  count: number;
  accounts: number;
  merchants: number;
  cardsPerAccount: number;
  devicesPerAccount: number;
  /** ISO 4217 codes; amounts respect each one's minor units. */
  currencies: readonly string[];
  /** Event time (epoch ms) of the first event. */
  startTime: number;
  /** Mean rate at which event time advances, in original transactions per second of event time. */
  eventsPerSecondOfEventTime: number;
  /** Probability that a valid transaction is re-sent later with identical bytes and key (a producer retry). */
  duplicateRate: number;
  /** Share of transactions whose event_time is up to 3 s earlier than the latest in-order one. */
  outOfOrderRate: number;
  /** Share of transactions whose event_time is 1-3 hours behind the stream. */
  lateRate: number;
  /** Share of bad records, split evenly: bad bytes, unknown schema id, semantically invalid values. */
  malformedRate: number;
  /** Share of transactions that belong to labelled fraud patterns. */
  fraudRate: number;
}

/** The defaults of `txmon simulate`. */
export const DEFAULT_SIM_OPTIONS: Readonly<SimOptions> = Object.freeze({
  seed: 42,
  count: 50_000,
  accounts: 2_000,
  merchants: 300,
  cardsPerAccount: 2,
  devicesPerAccount: 2,
  currencies: Object.freeze(['USD', 'EUR', 'GBP', 'JPY', 'KWD']),
  startTime: Date.parse('2026-01-01T00:00:00Z'),
  // 2,000 accounts at 20 purchases a day each: a day of traffic is ~40,000 transactions, so the
  // 1 min, 1 h and 24 h windows see what they would see in production (bursts are fraud, not the
  // background). `txmon simulate --tx-per-account-day` sets it.
  eventsPerSecondOfEventTime: (2_000 * 20) / 86_400,
  duplicateRate: 0.03,
  outOfOrderRate: 0.02,
  lateRate: 0.005,
  malformedRate: 0.01,
  fraudRate: 0.01,
});

/** How a transaction's event time departs from the stream's: absent when in order. */
export type Timing = 'out_of_order' | 'late';

export type SimEvent =
  /** Decodable and semantically valid. */
  | { kind: 'valid'; tx: Transaction; label: FraudLabel | null; timing?: Timing }
  /** Decodable but semantically invalid; reason is a stable snake_case code. */
  | { kind: 'invalid'; tx: Transaction; reason: string }
  /** Re-send of the valid event with that sequence index: identical bytes and key. */
  | { kind: 'duplicate'; of: number }
  /** Undecodable bytes. */
  | { kind: 'bad-bytes'; key: string | null; value: Buffer; reason: string }
  /** Magic byte 0 + a schema id the registry does not know + a valid Avro body. */
  | { kind: 'unknown-schema'; key: string | null; payloadOf: Transaction };

/** Encodes a transaction as the topic carries it: registry framing + Avro body. */
export type TransactionEncoder = (tx: Transaction) => Buffer;
