/**
 * What the ingest decides with, each re-read while it runs: the rule-set registry's active rule set,
 * else the rule file (a bad one stops the start, naming TXMON_RULES_FILE; a bad edit later keeps the
 * last good set), the model registry's
 * active and shadow models, the layout the rows' feature vectors are stored in, and the drift of
 * live scores against the active model's training baseline (exported as gauges).
 */
import { FeatureSpace } from '../../detection/features.ts';
import { snapshotFeatureNames } from '../../domain/snapshot.ts';
import { ConfigError, InputError } from '../../platform/errors.ts';
import type { ProcessorContext } from '../../runtime/processor.ts';
import { requireFeatureLayout } from '../../sinks/feature-vector.ts';
import type { IngestMetrics } from './ingest.metrics.ts';
import { ModelWatcher } from './model-watcher.ts';
import { canaryScorePsi, checkRollout, type GuardrailLimits } from '../../models/rollout.ts';
import { RuleSetWatcher } from './rule-set-watcher.ts';
import { RulesSource } from './rules-source.ts';

export async function startDetectionSources(ctx: ProcessorContext<string>, metrics: IngestMetrics) {
  const { cfg, log } = ctx;
  const featureNames = FeatureSpace.available(cfg.state.windows);
  const rules = new RulesSource(cfg.detection.rulesFile, featureNames, log, {
    reloaded: () => metrics.rulesReloads.inc({ outcome: 'ok' }),
    failed: () => metrics.rulesReloads.inc({ outcome: 'failed' }),
  });
  rules.start(cfg.detection.rulesReloadMs);
  ctx.onClose(() => rules.stop());

  // The registry's active rule set, when there is one, decides in place of the file.
  const published = new RuleSetWatcher(ctx.pool, featureNames, log, (active) => {
    metrics.rulesInForce.reset();
    metrics.rulesInForce.set({ source: active === null ? 'file' : 'registry' }, 1);
  });
  await ctx.untilUp('the rule-set registry', () =>
    published.refresh().catch((err: unknown) => {
      if (err instanceof InputError)
        throw new ConfigError(
          `the rule-set registry's active ${err.message}: promote or roll back to a rule set the configured windows can evaluate (txmon rules list)`,
        );
      throw err;
    }),
  );
  if (published.current === null) metrics.rulesInForce.set({ source: 'file' }, 1);
  published.start(cfg.detection.rulesReloadMs, (err) => ctx.tolerate('rule-set-registry-read', err));
  ctx.onClose(() => published.stop());

  const models = new ModelWatcher(ctx.pool, log, (m) => {
    metrics.modelInfo.reset();
    if (m.active) metrics.modelInfo.set({ state: 'active', version: m.active.model.version }, 1);
    if (m.shadow) metrics.modelInfo.set({ state: 'shadow', version: m.shadow.model.version }, 1);
  });
  await ctx.untilUp('the model registry', () => models.refresh());
  models.start(cfg.detection.modelPollMs, (err) => ctx.tolerate('model-registry-read', err));
  ctx.onClose(() => models.stop());

  // `txmon migrate` registers the layout (a ConfigError otherwise, which stops the start).
  const featureLayout = await ctx.untilUp('the feature layouts', () =>
    requireFeatureLayout(ctx.pool, snapshotFeatureNames(cfg.state.windows)),
  );

  ctx.every(cfg.detection.driftIntervalMs, 'drift-report', () => {
    const report = models.driftMonitor?.report();
    if (!report) return;
    metrics.scorePsi.set(report.scorePsi);
    for (const [feature, v] of Object.entries(report.featurePsi)) metrics.featurePsi.set({ feature }, v);
    const alert = report.scorePsi > cfg.detection.driftPsiAlert;
    metrics.driftAlert.set(alert ? 1 : 0);
    if (alert)
      log.warn(
        { model: report.modelVersion, scorePsi: report.scorePsi, sample: report.sample },
        'model drift: the score distribution moved away from training',
      );
  });

  // The running rollout's guardrails: every process checks; the first that finds one crossed rolls
  // it back (once, under the registry's lock, audited with its evidence) and the others see it ended.
  const limits: GuardrailLimits = {
    maxAlertRateFactor: cfg.detection.rolloutMaxAlertRateFactor,
    maxReviewQueueGrowth: cfg.detection.rolloutMaxReviewQueueGrowth,
    maxScorePsi: cfg.detection.rolloutMaxScorePsi,
    minDecisions: cfg.detection.rolloutMinDecisions,
  };
  ctx.every(cfg.detection.rolloutCheckMs, 'rollout-check', async () => {
    const checked = await checkRollout(ctx.pool, limits, (r) => canaryScorePsi(ctx.pool, r));
    metrics.rolloutShare.reset();
    if (checked === null) return;
    const { rollout, evidence, rolledBack } = checked;
    if (rolledBack) {
      metrics.rolloutRollbacks.inc({ kind: rollout.kind });
      log.warn(
        {
          rollout: rollout.id,
          kind: rollout.kind,
          version: rollout.version,
          crossed: evidence.crossed,
          canary: evidence.canary,
          control: evidence.control,
        },
        'rollout rolled back by a guardrail',
      );
    } else metrics.rolloutShare.set({ kind: rollout.kind, version: rollout.version }, rollout.shareBp / 10_000);
  });

  return {
    featureLayout,
    detection: {
      rules: () => published.current ?? rules.current,
      shadowRules: () => published.shadow,
      rollout: () => published.rollout,
      models: () => models.current,
      drift: () => models.driftMonitor,
    },
  };
}
