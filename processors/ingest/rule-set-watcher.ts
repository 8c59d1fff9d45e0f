/**
 * The rule sets the registry serves (migration 014): the active one, which the processors decide
 * with in place of TXMON_RULES_FILE when there is one, the one in shadow, and a running staged
 * rollout's candidate (models/rollout.ts, the same lock and revision), re-read whenever the registry revision moves
 * (a promotion or a rollback takes effect within one poll, without a restart). A stored rule set
 * that does not compile here (a feature these windows lack) is logged and the previous rules stay.
 */
import type { RuleSet } from '../../detection/rules.ts';
import type { Logger } from '../../platform/logger.ts';
import { PollLoop } from '../../platform/poll-loop.ts';
import type { Pool } from '../../platform/mysql.ts';
import { ModelScorer } from '../../detection/score.ts';
import { loadModel } from '../../models/model-registry.ts';
import {
  compileForRegistry,
  loadRuleSetText,
  ruleSetRevision,
  servingRuleSets,
  type StoredRuleSet,
} from '../../models/rule-set-registry.ts';
import { runningRollout, type RolloutKind } from '../../models/rollout.ts';

/** A running staged rollout as the ingest applies it: the accounts below `shareBp` get its rules or model. */
export interface LiveRollout {
  id: number;
  kind: RolloutKind;
  version: string;
  shareBp: number;
  rules: RuleSet | null;
  model: ModelScorer | null;
}

export class RuleSetWatcher {
  private active: RuleSet | null = null;
  private shadowSet: RuleSet | null = null;
  private rolloutNow: LiveRollout | null = null;
  private revision = -1;
  private readonly loop = new PollLoop(() => this.refresh());

  constructor(
    private readonly pool: Pool,
    private readonly featureNames: readonly string[],
    private readonly logger: Logger,
    private readonly onChange: (active: RuleSet | null) => void = () => {},
  ) {}

  /** The registry's active rule set, or null when none is active (the rule file decides then). */
  get current(): RuleSet | null {
    return this.active;
  }

  /** The running staged rollout, with what its canary decides with, or null. */
  get rollout(): LiveRollout | null {
    return this.rolloutNow;
  }

  /** The running rollout, its candidate compiled or loaded once per rollout (a grow keeps it). */
  private async liveRollout(): Promise<LiveRollout | null> {
    const r = await runningRollout(this.pool);
    if (r === null) return null;
    const prev = this.rolloutNow;
    if (prev !== null && prev.id === r.id) return prev.shareBp === r.shareBp ? prev : { ...prev, shareBp: r.shareBp };
    if (r.kind === 'rules') {
      const stored = await loadRuleSetText(this.pool, r.version);
      const rules = compileForRegistry(stored.text, this.featureNames, `rule set ${r.version}`);
      return { id: r.id, kind: r.kind, version: r.version, shareBp: r.shareBp, rules, model: null };
    }
    const model = new ModelScorer(await loadModel(this.pool, r.version));
    return { id: r.id, kind: r.kind, version: r.version, shareBp: r.shareBp, rules: null, model };
  }

  /** The rule set in shadow (it decides beside the live one, never acting), or null. */
  get shadow(): RuleSet | null {
    return this.shadowSet;
  }

  /** Reloads if the registry moved; throws when MySQL cannot be read or a served set does not compile. */
  async refresh(): Promise<void> {
    const revision = await ruleSetRevision(this.pool);
    if (revision === this.revision) return;
    const serving = await servingRuleSets(this.pool);
    const compiled = (stored: StoredRuleSet | null, current: RuleSet | null) =>
      stored === null
        ? null
        : stored.version === current?.version
          ? current
          : compileForRegistry(stored.text, this.featureNames, `rule set ${stored.version}`);
    const next = compiled(serving.active, this.active);
    const shadow = compiled(serving.shadow, this.shadowSet);
    const rollout = await this.liveRollout();
    this.revision = revision;
    if (rollout?.id !== this.rolloutNow?.id || rollout?.shareBp !== this.rolloutNow?.shareBp)
      this.logger.info(
        {
          revision,
          rollout:
            rollout === null
              ? null
              : { id: rollout.id, kind: rollout.kind, version: rollout.version, share: rollout.shareBp / 100 },
        },
        'rollout changed',
      );
    this.rolloutNow = rollout;
    if (shadow?.version !== this.shadowSet?.version) {
      this.logger.info(
        { revision, from: this.shadowSet?.version ?? null, to: shadow?.version ?? null },
        'shadow rule set changed',
      );
      this.shadowSet = shadow;
    }
    if (next?.version === this.active?.version) return;
    this.logger.info(
      { revision, from: this.active?.version ?? 'TXMON_RULES_FILE', to: next?.version ?? 'TXMON_RULES_FILE' },
      'rule set in force changed',
    );
    this.active = next;
    this.onChange(next);
  }

  /** Polls the registry every `intervalMs`; a failed poll goes to `failed` and the current rules stay. */
  start(intervalMs: number, failed: (err: unknown) => void): void {
    this.loop.start(intervalMs, failed);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
