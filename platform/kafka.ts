/** kafkajs client factory with its log lines routed to the process logger. */
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from './logger.ts';
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
export function createKafka(cfg: TxmonConfig, logger: Logger, clientIdSuffix = ''): Kafka {
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
