/**
 * The API's Prometheus registry: its own request counts and latencies (labels: route pattern,
 * method, status; never ids), and a scrape-friendly view of pipeline health read on scrape (consumer
 * lag per group and topic, dead letters per DLQ topic), read with a deadline (DeadlineRead): a
 * scrape waits at most 500 ms for Kafka (PROBE_WAIT_MS), so it answers within 1 s whatever Kafka
 * does, with the last known values and their age.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DeadlineRead, type Reading } from '../../platform/deadline-read.ts';
import { errorMessage } from '../../platform/errors.ts';
import { PROBE_DEADLINE_MS, PROBE_WAIT_MS } from '../../platform/probe-admin.ts';

export interface PipelineView {
  /** Records behind per consumer group and topic. */
  lag(): Promise<Array<{ group: string; topic: string; lag: number }>>;
  /** Records on each dead-letter topic (end offset minus start offset). */
  deadLetters(): Promise<Array<{ topic: string; records: number }>>;
}

/** Pipeline readings for the scrape: a deadline, one read in flight, the last value served with its age. */
export interface PipelineReadOptions {
  /** A read pending this long counts as failed (≤ 2 s). */
  deadlineMs?: number;
  /** A scrape waits at most this long for a read (default PROBE_WAIT_MS; at most the deadline). */
  waitMs?: number;
  /** A reading (or a failure) is reused this long, stamped when it settled. */
  freshMs?: number;
}

export function createApiMetrics(pipeline: PipelineView | null, cacheMs = 5_000, readOpts: PipelineReadOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'txmon_api_process_' });
  const registers = [registry];
  let log: { warn: (o: object, msg: string) => void } | null = null;
  const reads = new Counter({
    name: 'txmon_api_probe_reads_total',
    help: 'Reads of the pipeline for /metrics, by reading and outcome (ok, timeout, error).',
    labelNames: ['reading', 'outcome'],
    registers,
  });
  // One Kafka read at a time per reading, with a deadline: a scrape never waits on a retrying admin
  // (a missing DLQ topic), and a failure of one reading leaves the other.
  const reader = <T>(name: string, read: () => Promise<T>) =>
    new DeadlineRead(read, {
      deadlineMs: Math.min(readOpts.deadlineMs ?? PROBE_DEADLINE_MS, PROBE_DEADLINE_MS),
      waitMs: readOpts.waitMs ?? PROBE_WAIT_MS,
      freshMs: readOpts.freshMs ?? cacheMs,
      onOutcome: (outcome, err) => {
        reads.inc({ reading: name, outcome });
        if (outcome !== 'ok')
          log?.warn(
            { reading: name, outcome, err: err === undefined ? undefined : errorMessage(err) },
            'pipeline reading for /metrics failed; serving the last value',
          );
      },
    });
  const lag = pipeline ? reader('lag', () => pipeline.lag()) : null;
  const deadLetters = pipeline ? reader('dead_letters', () => pipeline.deadLetters()) : null;
  const none: Reading<never> = { value: null, ageMs: null, failure: null };
  return {
    registry,
    requests: new Counter({
      name: 'txmon_api_requests_total',
      help: 'Requests answered, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'txmon_api_request_duration_seconds',
      help: 'Time to answer a request, by route pattern and method.',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lag: new Gauge({
      name: 'txmon_pipeline_consumer_lag_records',
      help: 'Records behind the high watermark, per consumer group and topic (read from Kafka on scrape).',
      labelNames: ['group', 'topic'],
      registers,
      async collect() {
        const r = lag ? await lag.get() : none;
        this.reset();
        for (const l of r.value ?? []) this.set({ group: l.group, topic: l.topic }, l.lag);
      },
    }),
    deadLetters: new Gauge({
      name: 'txmon_pipeline_dead_letters_records',
      help: 'Records on each dead-letter topic (read from Kafka on scrape).',
      labelNames: ['topic'],
      registers,
      async collect() {
        const r = deadLetters ? await deadLetters.get() : none;
        this.reset();
        for (const d of r.value ?? []) this.set({ topic: d.topic }, d.records);
      },
    }),
    valueAge: new Gauge({
      name: 'txmon_api_probe_value_age_seconds',
      help: 'Age of the pipeline reading this scrape shows, by reading (lag, dead_letters); absent before the first success. Above the refresh period: Kafka is not answering and the value is the last known.',
      labelNames: ['reading'],
      registers,
      async collect() {
        // prom-client collects every metric at once: asking again joins the same read (single-flight),
        // so the age describes the values the gauges above show.
        // Both at once: one after the other, each could wait its full PROBE_WAIT_MS.
        const [l, d] = await Promise.all([lag ? lag.get() : none, deadLetters ? deadLetters.get() : none]);
        const readings = { lag: l, dead_letters: d };
        this.reset();
        for (const [reading, r] of Object.entries(readings)) if (r.ageMs !== null) this.set({ reading }, r.ageMs / 1000);
      },
    }),
    /** Where failed readings are logged (the app's logger, set by the plugin). */
    logTo(logger: { warn: (o: object, msg: string) => void }) {
      log = logger;
    },
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export default fp(
  async (app: FastifyInstance, opts: { metrics: ApiMetrics }) => {
    opts.metrics.logTo(app.log);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      opts.metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      opts.metrics.duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    });
  },
  { name: 'txmon-metrics' },
);
