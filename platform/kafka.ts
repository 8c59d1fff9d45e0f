/** kafkajs client factory with its log lines routed to the process logger. */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from './logger.ts';

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

/** A kafkajs client for the configured brokers. kafkajs INFO chatter is logged at debug. */
export function createKafka(cfg: TxmonConfig, logger: Logger, clientIdSuffix = ''): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: `${cfg.kafka.clientId}${clientIdSuffix}`,
    brokers: [...cfg.kafka.brokers],
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
