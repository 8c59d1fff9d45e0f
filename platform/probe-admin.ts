/**
 * A Kafka admin for probe and scrape paths only: no retry loop and short timeouts, so a read for
 * /metrics, /readyz or the pipeline view fails within the probe deadline instead of retrying for
 * half a minute (a missing dead-letter topic made the shared admin retry 8 times, 26-31 s).
 * The processors' and the API's other admin work keeps the retrying client of kafka.ts.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';

/** The deadline of every admin read on a probe or scrape path. */
export const PROBE_DEADLINE_MS = 2_000;

/**
 * How long a probe or scrape caller waits for a reading (/metrics, /readyz, the pipeline view): past
 * it the caller gets the last settled reading with its age while the read goes on, so each answers
 * within 1 s whatever Kafka does (issue 23), and a read slower than this but within the deadline
 * shows on the next call.
 */
export const PROBE_WAIT_MS = 500;

/** An admin whose requests give up within `deadlineMs`, retried at most once at once (connect it before use). */
export function createProbeAdmin(cfg: TxmonConfig, deadlineMs = PROBE_DEADLINE_MS): Admin {
  const kafka = new Kafka({
    clientId: `${cfg.kafka.clientId}-probe`,
    brokers: [...cfg.kafka.brokers],
    connectionTimeout: Math.min(1_000, deadlineMs),
    requestTimeout: deadlineMs,
    // One quick retry, not for the read's sake: kafkajs needs it to load the cluster's metadata on a
    // connection's first request ("No brokers in the broker pool" with none). The deadline of the
    // caller (DeadlineRead) bounds the wait either way.
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    // Failures are counted and logged once by the caller (DeadlineRead's outcome), not per request here.
    logLevel: logLevel.NOTHING,
  });
  return kafka.admin({ retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 } });
}
