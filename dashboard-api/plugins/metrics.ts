/**
 * The API's Prometheus registry: its own request counts and latencies (labels: route pattern,
 * method, status; never ids), and a scrape-friendly view of pipeline health read on scrape (consumer
 * lag per group and topic, dead letters per DLQ topic), cached for a few seconds.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface PipelineView {
  /** Records behind per consumer group and topic. */
  lag(): Promise<Array<{ group: string; topic: string; lag: number }>>;
  /** Records on each dead-letter topic (end offset minus start offset). */
  deadLetters(): Promise<Array<{ topic: string; records: number }>>;
}

export function createApiMetrics(pipeline: PipelineView | null, cacheMs = 5_000) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'txmon_api_process_' });
  const registers = [registry];
  // One Kafka read per refresh, shared by both gauges (prom-client collects them together); a
  // failure of one reading (a missing DLQ topic) leaves the other.
  const cached = <T>(read: () => Promise<T>) => {
    let at = 0;
    let value: Promise<T | null> = Promise.resolve(null);
    return (): Promise<T | null> => {
      if (Date.now() - at >= cacheMs) {
        at = Date.now();
        value = read().catch(() => null);
      }
      return value;
    };
  };
  const lag = pipeline ? cached(() => pipeline.lag()) : async () => null;
  const deadLetters = pipeline ? cached(() => pipeline.deadLetters()) : async () => null;
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
        const v = await lag();
        this.reset();
        for (const l of v ?? []) this.set({ group: l.group, topic: l.topic }, l.lag);
      },
    }),
    deadLetters: new Gauge({
      name: 'txmon_pipeline_dead_letters_records',
      help: 'Records on each dead-letter topic (read from Kafka on scrape).',
      labelNames: ['topic'],
      registers,
      async collect() {
        const v = await deadLetters();
        this.reset();
        for (const d of v ?? []) this.set({ topic: d.topic }, d.records);
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export default fp(
  async (app: FastifyInstance, opts: { metrics: ApiMetrics }) => {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      opts.metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      opts.metrics.duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    });
  },
  { name: 'txmon-metrics' },
);
