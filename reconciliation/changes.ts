/**
 * What a recomputed group means for the stored result: unchanged, changed silently, or changed with
 * an event for the exceptions topic. Pure; the sink stores what this returns.
 */
import { createHash } from 'node:crypto';
import { EXCEPTION_STATUSES, type GroupOutcome, type ReconStatus } from './match.ts';

/** A group's stored result (one row of recon_results). */
export interface StoredResult {
  reference: string;
  status: ReconStatus;
  reason: string;
  expectedMinor: bigint | null;
  settledMinor: bigint;
  currency: string;
  transactions: number;
  settlementLines: number;
  businessDate: number;
  deadline: number;
  revision: number;
  /** Wall-clock ms when the group first became an exception. */
  exceptionSince: number | null;
}

/** The exceptions topic's record (schemas/recon-exception.avsc), JSON-safe: amounts as decimal strings. */
export interface ReconEventPayload {
  exception_id: string;
  transaction_reference: string;
  status: ReconStatus;
  previous_status: ReconStatus | null;
  revision: number;
  reason: string;
  expected_minor: string | null;
  settled_minor: string;
  currency: string;
  transaction_ids: string[];
  settlement_ids: string[];
  business_date: number;
  deadline: number;
  watermark: number;
  detected_at: number;
}

/** Ids listed in one event at most (the group's full membership is in MySQL). */
export const MAX_IDS_PER_EVENT = 100;

/** Deterministic id of a group's change: a replay of the change publishes the same id. */
export function exceptionId(reference: string, revision: number): string {
  return createHash('sha256').update(`${reference}\n${revision}`).digest('hex').slice(0, 32);
}

/**
 * The new stored result and, when the exceptions topic must hear of it, the event; null when the
 * outcome equals what is stored. An event goes out when a group enters or changes within an
 * exception status, or leaves one (to MATCHED or back to PENDING); ordinary matches are silent.
 */
export function groupChange(
  reference: string,
  prev: StoredResult | null,
  outcome: GroupOutcome,
  members: { transactionIds: readonly string[]; settlementIds: readonly string[] },
  watermark: number,
  now: number,
): { row: StoredResult; event: ReconEventPayload | null } | null {
  const next = {
    status: outcome.status,
    reason: outcome.reason.slice(0, 255),
    expectedMinor: outcome.expectedMinor,
    settledMinor: outcome.settledMinor,
    currency: outcome.currency,
    transactions: members.transactionIds.length,
    settlementLines: members.settlementIds.length,
    businessDate: outcome.businessDate,
    deadline: outcome.deadline,
  };
  if (
    prev !== null &&
    prev.status === next.status &&
    prev.reason === next.reason &&
    prev.expectedMinor === next.expectedMinor &&
    prev.settledMinor === next.settledMinor &&
    prev.currency === next.currency &&
    prev.transactions === next.transactions &&
    prev.settlementLines === next.settlementLines &&
    prev.businessDate === next.businessDate &&
    prev.deadline === next.deadline
  )
    return null;
  const isException = EXCEPTION_STATUSES.has(next.status);
  const wasException = prev !== null && EXCEPTION_STATUSES.has(prev.status);
  const revision = (prev?.revision ?? 0) + 1;
  const row: StoredResult = {
    reference,
    ...next,
    revision,
    exceptionSince: prev?.exceptionSince ?? (isException ? now : null),
  };
  const notify =
    (isException &&
      (!wasException ||
        prev.status !== next.status ||
        prev.expectedMinor !== next.expectedMinor ||
        prev.settledMinor !== next.settledMinor ||
        prev.currency !== next.currency)) ||
    (wasException && !isException);
  if (!notify) return { row, event: null };
  return {
    row,
    event: {
      exception_id: exceptionId(reference, revision),
      transaction_reference: reference,
      status: next.status,
      previous_status: prev?.status ?? null,
      revision,
      reason: next.reason,
      expected_minor: next.expectedMinor === null ? null : next.expectedMinor.toString(),
      settled_minor: next.settledMinor.toString(),
      currency: next.currency,
      transaction_ids: [...members.transactionIds].sort().slice(0, MAX_IDS_PER_EVENT),
      settlement_ids: [...members.settlementIds].sort().slice(0, MAX_IDS_PER_EVENT),
      business_date: next.businessDate,
      deadline: next.deadline,
      watermark,
      detected_at: now,
    },
  };
}

/**
 * The payload as the exceptions topic's writer type encodes it (`avroType('recon-exception',
 * { bigintLongs: true })`): the amounts as bigint, exact beyond 2^53; the timestamps (logical
 * types, always within 2^53) stay numbers.
 */
export function toAvroRecord(p: ReconEventPayload): Record<string, unknown> {
  return {
    ...p,
    expected_minor: p.expected_minor === null ? null : BigInt(p.expected_minor),
    settled_minor: BigInt(p.settled_minor),
  };
}
