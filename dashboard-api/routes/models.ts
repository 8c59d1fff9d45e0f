/** Models for SREs and admins: versions with metrics; promote, shadow, roll back (admin only, audited). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LRUCache } from 'lru-cache';
import { InputError } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import { DriftMonitor } from '../../detection/drift-monitor.ts';
import { FeatureSpace } from '../../detection/features.ts';
import { listModels, loadModelCard, loadServingModels, promote, rollback, shadow } from '../../models/model-registry.ts';
import type { CandidateSettings } from '../../models/candidate.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { checkFirst } from './promotion-check.ts';
import { activeModelVersion, recentScores } from '../repositories/models.ts';
import { problems } from '../schemas/common.ts';
import {
  DriftHistory,
  DriftHistoryQuery,
  Drift,
  DriftQuery,
  ModelCardBody,
  ModelList,
  OptionalReason,
  PromoteBody,
  Promoted,
  RolledBack,
  Shadowed,
  VersionParams,
} from '../schemas/models.ts';

/** A registry refusal: an unknown `version` → 404, anything else (wrong state) → 409. */
const refusal =
  (version?: string) =>
  (err: unknown): never => {
    if (err instanceof InputError)
      throw new HttpProblem(version !== undefined && err.message.startsWith(`no model ${version}`) ? 404 : 409, err.message);
    throw err;
  };

/** The largest `sample` a non-admin may ask for: ~11 MB of feature snapshots read per computation. */
export const DRIFT_SAMPLE_CAP = 5_000;
/** How long a drift result is reused per (model version, sample): its inputs are minutes of traffic. */
export const DRIFT_CACHE_MS = 60_000;

/** PSI of the active model's recent traffic (decisions and their feature vectors in MySQL, by ix_transactions_model_decided) against its training baseline. */
async function drift(pool: Pool, version: string, sample: number, psiAlert: number) {
  const { active } = await loadServingModels(pool);
  if (!active || active.version !== version)
    throw new HttpProblem(409, 'the active model changed while drift was computed; retry');
  const rows = await recentScores(pool, active.version, sample);
  const monitor = new DriftMonitor(active.version, active.features, active.baseline, Math.max(1, rows.length));
  const space = new FeatureSpace(active.features);
  for (const r of rows) monitor.add(space.fromObject(r.features), r.score);
  const report = monitor.report(Math.min(100, sample));
  if (!report)
    throw new HttpProblem(409, `model ${active.version} has scored ${rows.length} transactions; drift needs at least 100`);
  return {
    model_version: report.modelVersion,
    sample: report.sample,
    score_psi: report.scorePsi,
    drift_alert: report.scorePsi > psiAlert,
    features: Object.entries(report.featurePsi)
      .map(([feature, psi]) => ({ feature, psi }))
      .sort((a, b) => b.psi - a.psi),
  };
}

type DriftT = Awaited<ReturnType<typeof drift>>;

/** A bucket's PSIs need at least this many decisions in it. */
const HISTORY_MIN_BUCKET = 100;

/**
 * Drift over time: the active model's `sample` most recent decisions, grouped by the hour or day of
 * their transactions' event time (the data's time, not the ingest's), each bucket's score PSI and
 * per-feature PSI against training; buckets under HISTORY_MIN_BUCKET decisions are left out.
 */
async function driftHistory(pool: Pool, version: string, sample: number, bucket: 'hour' | 'day', psiAlert: number) {
  const { active } = await loadServingModels(pool);
  if (!active || active.version !== version)
    throw new HttpProblem(409, 'the active model changed while drift was computed; retry');
  const rows = await recentScores(pool, active.version, sample);
  const width = bucket === 'hour' ? 3_600_000 : 86_400_000;
  const groups = new Map<number, typeof rows>();
  for (const r of rows) {
    const start = Math.floor(r.eventTime.getTime() / width) * width;
    const g = groups.get(start);
    if (g) g.push(r);
    else groups.set(start, [r]);
  }
  const space = new FeatureSpace(active.features);
  const buckets = [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([start, rs]) => {
      const monitor = new DriftMonitor(active.version, active.features, active.baseline, rs.length);
      for (const r of rs) monitor.add(space.fromObject(r.features), r.score);
      const report = monitor.report(HISTORY_MIN_BUCKET);
      if (!report) return [];
      return [
        {
          start: new Date(start).toISOString(),
          decisions: rs.length,
          score_psi: report.scorePsi,
          features: Object.entries(report.featurePsi)
            .map(([feature, psi]) => ({ feature, psi }))
            .sort((a, b) => b.psi - a.psi)
            .slice(0, 10),
        },
      ];
    });
  return { model_version: active.version, sample: rows.length, bucket, psi_alert: psiAlert, buckets };
}

const modelRoutes: FastifyPluginAsyncTypebox<{
  pool: Pool;
  driftPsiAlert: number;
  driftCacheMs?: number;
  promotionCheck?: CandidateSettings;
}> = async (app, { pool, driftPsiAlert, driftCacheMs = DRIFT_CACHE_MS, promotionCheck }) => {
  // One computation per (active version, sample) per period, shared by concurrent callers
  // (lru-cache's fetch is single-flight); failures are not kept. A promotion changes the key.
  const driftCache = new LRUCache<string, DriftT>({
    max: 32,
    ttl: Math.max(1, driftCacheMs),
    fetchMethod: async (key) => {
      const [version, sample] = key.split('\n') as [string, string];
      return drift(pool, version, Number(sample), driftPsiAlert);
    },
  });
  const historyCache = new LRUCache<string, Awaited<ReturnType<typeof driftHistory>>>({
    max: 32,
    ttl: Math.max(1, driftCacheMs),
    fetchMethod: async (key) => {
      const [version, sample, bucket] = key.split('\n') as [string, string, 'hour' | 'day'];
      return driftHistory(pool, version, Number(sample), bucket, driftPsiAlert);
    },
  });
  /** What a drift read measures: the active model (409 without one) and the sample (above the cap: admins only). */
  const driftSubject = async (request: {
    query: { sample?: number };
    principal: { role: string } | null;
  }): Promise<{ active: string; sample: number }> => {
    const sample = request.query.sample ?? 5_000;
    if (sample > DRIFT_SAMPLE_CAP && request.principal?.role !== 'admin')
      throw new HttpProblem(403, `a drift sample above ${DRIFT_SAMPLE_CAP} needs the admin role (asked for ${sample})`);
    const active = await activeModelVersion(pool);
    if (active === null) throw new HttpProblem(409, 'no model is active: there is no baseline to measure drift against');
    return { active, sample };
  };
  app.get(
    '/models/drift',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['models'],
        summary: `Drift of the active model: PSI per feature and of the score over its most recent decisions, against training. Computed at most once per ${DRIFT_CACHE_MS / 1000} s per (model, sample); a sample above ${DRIFT_SAMPLE_CAP} needs the admin role`,
        querystring: DriftQuery,
        response: { 200: Drift, ...problems(409) },
      },
    },
    async (request) => {
      const { active, sample } = await driftSubject(request);
      const result = await driftCache.fetch(`${active}\n${sample}`);
      if (!result) throw new Error('drift computation gave no result');
      return result;
    },
  );

  app.get(
    '/models/drift/history',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['models'],
        summary: `Drift of the active model over time: its most recent decisions grouped by the hour or day of their event time, each group's PSI of the score and per feature (the ten largest) against training; groups under ${HISTORY_MIN_BUCKET} decisions left out. Computed at most once per ${DRIFT_CACHE_MS / 1000} s per (model, sample, bucket)`,
        querystring: DriftHistoryQuery,
        response: { 200: DriftHistory, ...problems(409) },
      },
    },
    async (request) => {
      const { active, sample } = await driftSubject(request);
      const result = await historyCache.fetch(`${active}\n${sample}\n${request.query.bucket ?? 'hour'}`);
      if (!result) throw new Error('drift computation gave no result');
      return result;
    },
  );

  const actor = (p: { name: string; keyId: string } | null) => (p ? `${p.name} (key ${p.keyId})` : 'unknown');

  app.get(
    '/models',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['models'],
        summary: 'Every model version with its state and metrics',
        response: { 200: ModelList, ...problems() },
      },
    },
    async () =>
      (await listModels(pool)).map((m) => ({
        version: m.version,
        state: m.state,
        created_at: m.createdAt.toISOString(),
        state_changed_at: m.stateChangedAt.toISOString(),
        trained_from: m.trainedFrom.toISOString(),
        trained_to: m.trainedTo.toISOString(),
        training_rows: m.trainingRows,
        features: m.featureCount,
        threshold: m.threshold,
        params: m.params,
        metrics: m.metrics,
        checksum: m.checksum,
      })),
  );

  app.get(
    '/models/:version/card',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['models'],
        summary:
          'A model’s card: training window and size, features, parameters, evaluation, calibration, alert rate by segment, known limits',
        params: VersionParams,
        response: { 200: ModelCardBody, ...problems(404) },
      },
    },
    async (request) => {
      const card = await loadModelCard(pool, request.params.version).catch(refusal(request.params.version));
      if (card === null)
        throw new HttpProblem(
          404,
          `model ${request.params.version} has no card (trained before model cards): txmon model card ${request.params.version} --generate`,
        );
      return card;
    },
  );

  app.post(
    '/models/:version/promote',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['models'],
        summary:
          'Make a model active (running processors take it within seconds), after a backtest with the rules in force (`check`, `strict`); refused without a model card; audited',
        params: VersionParams,
        body: PromoteBody,
        response: { 200: Promoted, ...problems(404, 409) },
      },
    },
    async (request) => {
      const check = await checkFirst(pool, promotionCheck, { model: request.params.version }, request.body).catch(
        refusal(request.params.version),
      );
      const r = await promote(pool, request.params.version, actor(request.principal), request.body?.reason, request.ip).catch(
        refusal(request.params.version),
      );
      return { active: request.params.version, previous: r.previous, check };
    },
  );

  app.post(
    '/models/:version/shadow',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['models'],
        summary: 'Score a model beside the active one (both scores stored); audited',
        params: VersionParams,
        body: OptionalReason,
        response: { 200: Shadowed, ...problems(404, 409) },
      },
    },
    async (request) => {
      const r = await shadow(pool, request.params.version, actor(request.principal), request.body?.reason, request.ip).catch(
        refusal(request.params.version),
      );
      return { shadow: request.params.version, replaced: r.replaced };
    },
  );

  app.post(
    '/models/rollback',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['models'],
        summary: 'Return to the model active before the current one; audited',
        body: OptionalReason,
        response: { 200: RolledBack, ...problems(409) },
      },
    },
    async (request) => rollback(pool, actor(request.principal), request.body?.reason, request.ip).catch(refusal()),
  );
};

export default modelRoutes;
