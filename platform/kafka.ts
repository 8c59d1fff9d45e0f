/** kafkajs client factory with its log lines routed to the process logger. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from './logger.ts';
import { ConfigError } from './errors.ts';
import { cacheCoordinatorLookups } from './kafka-coordinators.ts';

// kafkajs logs retriable broker responses (coordinator loading, not the coordinator, ...) as
// errors; txmon decides what is an error itself, so they are warnings here.
const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'warn',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// Known, harmless kafkajs notices: the v2 partitioner notice (txmon keys by account and relies on
// the default murmur2 partitioner), and the bounded-retries notice (txmon retries whole batches
// itself, and transactions keep the output exactly-once).
const QUIET = [/switched default partitioner/, /Limiting retries for the idempotent producer/];

/**
 * TLS and SASL of the configured brokers, for every kafkajs client txmon builds (processors, CLI,
 * the service manager's probe). The server's certificate is always verified, against the system's
 * CAs or TXMON_KAFKA_SSL_CA_FILE.
 */
export function kafkaSecurity(cfg: TxmonConfig): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const { ssl, sasl } = cfg.kafka;
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (ssl !== null)
    out.ssl =
      ssl.ca === undefined && ssl.cert === undefined
        ? true
        : { rejectUnauthorized: true, ca: ssl.ca === undefined ? undefined : [ssl.ca], cert: ssl.cert, key: ssl.key };
  if (sasl !== null) {
    const { username } = sasl;
    const password = sasl.password.reveal();
    out.sasl =
      sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

/** A kafkajs client for the configured brokers. kafkajs INFO chatter is logged at debug. */
let filterChecked = false;

/**
 * Fails unless kafkajs carries txmon's two fixes (scripts/patch-kafkajs.js, applied by `npm ci`'s
 * postinstall). Its read_committed filter: with kafkajs's own, records of an aborted transaction
 * reach the processors when transactions of several producers interleave in a partition, and
 * committed ones can be skipped; asked of kafkajs's own Batch, with such a partition (two aborted
 * transactions listed in the order they ended, not begun). Its producer's send: with kafkajs's own,
 * a retry after a partition's leader moved can lose or repeat messages; told by the fix's mark.
 */
export function assertKafkajsFixed(): void {
  if (filterChecked) return;
  const require = createRequire(import.meta.url);
  const Batch = require('kafkajs/src/consumer/batch.js') as new (
    topic: string,
    fetchedOffset: string,
    partitionData: object,
  ) => { messages: Array<{ offset: string }> };
  const record = (offset: number, producerId: string, abortMarker = false) => ({
    offset: String(offset),
    key: abortMarker ? Buffer.from([0, 0, 0, 0]) : Buffer.from('k'),
    value: null,
    isControlRecord: abortMarker,
    batchContext: { producerId, inTransaction: true },
  });
  const batch = new Batch('t', '0', {
    partition: 0,
    highWatermark: '10',
    abortedTransactions: [
      { producerId: '2', firstOffset: '2' },
      { producerId: '1', firstOffset: '0' },
    ],
    messages: [record(0, '1'), record(1, '1'), record(2, '2'), record(3, '2', true), record(4, '1', true), record(5, '1')],
  });
  const seen = batch.messages.map((m) => m.offset).join(',');
  if (seen !== '5')
    throw new ConfigError(
      `kafkajs's read_committed filter is not txmon's fixed one (it let offsets ${seen} through where only 5 is committed): run \`npm ci\` (its postinstall, scripts/patch-kafkajs.js, applies the fix)`,
    );
  // The producer's send, fixed by the same script (it marks the file).
  const send = readFileSync(require.resolve('kafkajs/src/producer/sendMessages.js'), 'utf8');
  if (!send.includes('txmonFixed v2 '))
    throw new ConfigError(
      "kafkajs's producer send is not txmon's fixed one (a retry after a leader moved can lose or repeat messages): run `npm ci` (its postinstall, scripts/patch-kafkajs.js, applies the fix)",
    );
  filterChecked = true;
}

export function createKafka(cfg: TxmonConfig, logger: Logger, clientIdSuffix = ''): Kafka {
  assertKafkajsFixed();
  // A transaction asks for its coordinators once a second, not before each request (kafka-coordinators.ts).
  cacheCoordinatorLookups();
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: `${cfg.kafka.clientId}${clientIdSuffix}`,
    brokers: [...cfg.kafka.brokers],
    ...kafkaSecurity(cfg),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: cfg.retryMaxBackoffMs },
    logLevel: logLevel.INFO,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...extra } = entry;
        let lvl = LEVEL[level] ?? 'debug';
        if (lvl === 'info' || QUIET.some((re) => re.test(message))) lvl = 'debug';
        log[lvl](extra, message);
      },
  });
}
