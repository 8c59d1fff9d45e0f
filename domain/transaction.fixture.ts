/** A well-formed Transaction for tests (no I/O); override what a test is about. */
import type { Transaction } from './transaction.ts';

export function sampleTransaction(overrides: Partial<Transaction> = {}): Transaction {
  return {
    transaction_id: 'tx-1',
    idempotency_key: 'idem-1',
    type: 'AUTHORIZATION',
    account_id: 'acc-000001',
    card_token: 'tok_ab12',
    card_last4: '4242',
    card_bin: '424242',
    merchant_id: 'm-1',
    mcc: '5411',
    merchant_country: 'US',
    amount_minor: 1999,
    currency: 'USD',
    event_time: Date.parse('2026-01-01T00:00:00Z'),
    channel: 'POS',
    device_id: null,
    ip_country: null,
    reference: null,
    parent_transaction_id: null,
    latitude: null,
    longitude: null,
    ...overrides,
  };
}
