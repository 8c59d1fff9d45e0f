/** Helpers shared by the simulator's unit tests. */
import { avroType } from '../../schemas/index.ts';
import { avroEncoder } from '../../simulator/codec.ts';
import { generateEvents } from '../../simulator/generate.ts';
import { DEFAULT_SIM_OPTIONS, type SimEvent, type SimOptions, type Transaction } from '../../simulator/types.ts';

export const TEST_SCHEMA_ID = 7;
export const transactionType = avroType('transaction');
export const encode = avroEncoder(TEST_SCHEMA_ID);

/** Default options with a smaller count, overridden as given. */
export function options(overrides: Partial<SimOptions> = {}): SimOptions {
  return { ...DEFAULT_SIM_OPTIONS, count: 20_000, ...overrides };
}

export function collect(opts: SimOptions): SimEvent[] {
  return [...generateEvents(opts, encode)];
}

/** Decodes a framed record, or throws. */
export function decode(bytes: Buffer): Transaction {
  if (bytes[0] !== 0 || bytes.readInt32BE(1) !== TEST_SCHEMA_ID) throw new Error('not framed with the test schema id');
  return transactionType.fromBuffer(bytes.subarray(5)) as Transaction;
}

/** Whether a string is all digits and passes the Luhn check (looks like a card number). */
export function isLuhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
