/**
 * What a backtest or a promotion's check decides with: the candidate's rules (a file, a published
 * version, or the rules in force) and model (a version, the active one, or none), and the check a
 * promotion runs first (models/backtest.ts promotionCheck) with the configured fairness policy.
 */
import { existsSync } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import type { Candidate } from '../detection/backtest.ts';
import { FeatureSpace } from '../detection/features.ts';
import type { RuleSet } from '../detection/rules.ts';
import { ModelScorer } from '../detection/score.ts';
import type { FairnessPolicy } from '../detection/segments.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { promotionCheck, type PromotionCheck } from './backtest.ts';
import { listModels, loadModel } from './model-registry.ts';
import { compileForRegistry, loadRuleSetText, readRuleFile, rulesInForce } from './rule-set-registry.ts';

/** The settings a candidate and a promotion's check read (a part of TxmonConfig). */
export type CandidateSettings = Pick<TxmonConfig, 'state'> & {
  detection: Pick<
    TxmonConfig['detection'],
    'rulesFile' | 'blockScore' | 'promotionCheckDays' | 'fairnessFactor' | 'fairnessMinAlerts'
  >;
};

/** The candidate's model: the named version, else the active one, else none; 'none': rules alone. */
export async function candidateModel(
  pool: Pool,
  version: string | undefined,
  threshold: number | undefined,
): Promise<ModelScorer | null> {
  if (version === 'none') {
    if (threshold !== undefined) throw new InputError('--threshold needs a model: not with --model none');
    return null;
  }
  const pick = version ?? (await listModels(pool)).find((m) => m.state === 'active')?.version;
  if (pick === undefined) {
    if (threshold !== undefined) throw new InputError('--threshold needs a model, and no model is active: name one with --model');
    return null;
  }
  const model = await loadModel(pool, pick);
  return new ModelScorer(threshold === undefined ? model : { ...model, threshold });
}

/**
 * The candidate's rules: a file, else a published version; by default the rules in force (the
 * registry's active rule set, else TXMON_RULES_FILE).
 */
export async function candidateRules(
  pool: Pool,
  cfg: CandidateSettings,
  given: string | undefined,
): Promise<{ set: RuleSet; source: string }> {
  const names = FeatureSpace.available(cfg.state.windows);
  if (given === undefined) return rulesInForce(pool, cfg.detection.rulesFile, names);
  if (existsSync(given)) return { set: readRuleFile(given, names), source: given };
  if (!/^[^/\\]+@[0-9a-f]{12}$/.test(given))
    throw new InputError(
      `--rules ${given}: no such file, nor a published rule-set version (<version>@<12 hex digits>: txmon rules list)`,
    );
  const stored = await loadRuleSetText(pool, given);
  return { set: compileForRegistry(stored.text, names, `rule set ${given}`), source: `the registry (${stored.state})` };
}

/** The fairness policy the configuration sets (TXMON_FAIRNESS_FACTOR, TXMON_FAIRNESS_MIN_ALERTS). */
export function fairnessOf(cfg: CandidateSettings): FairnessPolicy {
  return { factor: cfg.detection.fairnessFactor, minAlerts: cfg.detection.fairnessMinAlerts };
}

/**
 * A promotion's check: the rule set or model being promoted, with the rest of what is in force,
 * backtested over the latest TXMON_PROMOTION_CHECK_DAYS of stored decisions.
 */
export async function checkPromotion(
  pool: Pool,
  cfg: CandidateSettings,
  promoting: { rules?: string; model?: string },
  say: (line: string) => void,
): Promise<PromotionCheck & { fairness: FairnessPolicy }> {
  const candidate: Candidate = {
    rules: (await candidateRules(pool, cfg, promoting.rules)).set,
    model: await candidateModel(pool, promoting.model, undefined),
    policy: { blockScore: cfg.detection.blockScore },
  };
  const fairness = fairnessOf(cfg);
  return { ...(await promotionCheck(pool, candidate, cfg.detection.promotionCheckDays, fairness, say)), fairness };
}

/** The refusal of a strict promotion whose check flagged segments (nothing is changed). */
export function strictRefusal(check: PromotionCheck & { fairness: FairnessPolicy }, how: string): InputError {
  return new InputError(
    `promotion refused (${how}): ${check.flagged.length} segment(s) move by more than ${check.fairness.factor}× (txmon backtest shows the detail); nothing changed`,
  );
}
