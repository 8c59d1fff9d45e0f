/**
 * Every topic as code: name, partitions, retention, cleanup policy, key and value schema.
 * Names are contracts with upstream producers and downstream consumers: never rename one;
 * a breaking change gets a new `.v2` topic.
 */
import type { SchemaName } from '../schemas/index.ts';

export interface TopicSpec {
  /** Contract name, without the deployment namespace. */
  readonly name: string;
  readonly partitions: number;
  /** Broker configs that `topics apply` sets on create and checks for drift. */
  readonly config: Readonly<Record<string, string>>;
  readonly key: string;
  readonly valueSchema: SchemaName;
  readonly description: string;
}

const DAY_MS = 24 * 3600 * 1000;

export const TOPICS = {
  transactions: {
    name: 'txmon.transactions.v1',
    partitions: 6,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
    key: 'account_id (UTF-8)',
    valueSchema: 'transaction',
    description: 'Upstream payment events, Avro with schema-registry framing.',
  },
  transactionsDlq: {
    name: 'txmon.transactions.dlq.v1',
    partitions: 3,
    // A dead letter is about twice its source record; allow large ones (the processor also sends
    // dead letters in bounded chunks, compressed).
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS), 'max.message.bytes': String(8 * 1024 * 1024) },
    key: 'original record key (bytes)',
    valueSchema: 'dead-letter',
    description: 'Transactions that could not be decoded or validated, with the original bytes and the reason.',
  },
  settlements: {
    name: 'txmon.settlements.v1',
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    key: 'transaction_reference (UTF-8)',
    valueSchema: 'settlement',
    description: 'Settlement lines from acquirers and banks.',
  },
  settlementsDlq: {
    name: 'txmon.settlements.dlq.v1',
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS), 'max.message.bytes': String(8 * 1024 * 1024) },
    key: 'original record key (bytes)',
    valueSchema: 'dead-letter',
    description:
      'Settlement lines that could not be decoded or validated (reconcile processor, settlements import), with the reason.',
  },
  reconExceptions: {
    name: 'txmon.recon-exceptions.v1',
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(90 * DAY_MS) },
    key: 'transaction_reference (UTF-8)',
    valueSchema: 'recon-exception',
    description:
      'Reconciliation exceptions and their changes (a group that leaves an exception status too); written transactionally.',
  },
  alerts: {
    name: 'txmon.alerts.v1',
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    key: 'account_id (UTF-8)',
    valueSchema: 'alert',
    description: 'REVIEW and BLOCK decisions for fraud analysts; written transactionally.',
  },
  opsAlerts: {
    name: 'txmon.ops-alerts.v1',
    partitions: 1,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    key: 'alert_id (UTF-8)',
    valueSchema: 'ops-alert',
    description: "ops-watch: incidents on txmon's own metrics and forecast SLO breaches, a revision per change (issue 21).",
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof TOPICS;

/** The topic name as deployed: the namespace (e.g. "staging." or "" in production) + the contract name. */
export function topicName(namespace: string, key: TopicKey): string {
  return `${namespace}${TOPICS[key].name}`;
}

/** The schema-registry subject of a topic's values (TopicNameStrategy). */
export function valueSubject(namespace: string, key: TopicKey): string {
  return `${topicName(namespace, key)}-value`;
}
