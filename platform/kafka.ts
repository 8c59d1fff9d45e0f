/** kafkajs client factory with its log lines routed to the process logger. */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from './logger.ts';

const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

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
        const lvl = LEVEL[level] ?? 'debug';
        log[lvl === 'info' ? 'debug' : lvl](extra, message);
      },
  });
}
