/** Builds Alert records (schemas/alert.avsc) for the alerts topic from REVIEW and BLOCK decisions. */
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import type { DecisionRecord } from '../detection/decision-record.ts';
import { frame } from '../platform/schema-registry.ts';

/** Framed Avro alerts keyed by account id; only decisions with an alert id. */
export function alertMessages(decisions: readonly DecisionRecord[], type: avro.Type, schemaId: number): Message[] {
  const out: Message[] = [];
  for (const d of decisions) {
    if (d.alertId === null || d.decision === 'ALLOW') continue;
    out.push({
      key: d.accountId,
      // The time of the first decision (stored, read back on a replay), so a re-sent alert is the
      // same record. Not the event time: the broker's time-based retention would delete alerts of
      // old events (a backlog, a replay) as soon as they land.
      timestamp: String(d.decidedAt),
      value: frame(
        schemaId,
        type.toBuffer({
          alert_id: d.alertId,
          transaction_id: d.transactionId,
          account_id: d.accountId,
          decision: d.decision,
          risk_score: d.riskScore,
          model_version: d.modelVersion,
          ruleset_version: d.rulesetVersion,
          rule_hits: d.ruleHits
            .filter((h) => !h.snoozed)
            .map((h) => ({ rule_id: h.ruleId, rule_version: h.ruleVersion, severity: h.severity, detail: h.detail })),
          explanation: d.explanation.summary,
          amount_minor: d.amountMinor,
          currency: d.currency,
          event_time: d.eventTime,
          decided_at: d.decidedAt,
        }),
      ),
      headers: { 'txmon-alert-id': d.alertId, 'txmon-decision': d.decision },
    });
  }
  return out;
}
