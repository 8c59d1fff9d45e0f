/** `txmon rules ...`: publish, list, show, shadow (and its report), promote and roll back rule sets. */
import { readFileSync } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import { FeatureSpace } from '../detection/features.ts';
import { alertsPerDayLines, transitionLines } from '../detection/backtest.ts';
import {
  listRuleSets,
  loadRuleSetText,
  promoteRuleSet,
  publishRuleSet,
  rollbackRuleSet,
  shadowReport,
  shadowRuleSet,
} from '../models/rule-set-registry.ts';
import { InputError } from '../platform/errors.ts';
import { withPool } from '../platform/mysql.ts';
import { checkBeforePromotion } from './backtest.actions.ts';
import { startCanary } from './rollout.actions.ts';
import { actorName, type LifecycleOptions } from './context.ts';

/** `txmon rules publish`: prints the version. */
export async function publishCommand(
  cfg: TxmonConfig,
  file: string,
  o: { reason: string; actor?: string },
  say: (line: string) => void,
): Promise<string> {
  if (o.reason.trim() === '') throw new InputError('--reason must say why (it is kept in the audit log)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return withPool(cfg, async (pool) => {
    const r = await publishRuleSet(pool, text, FeatureSpace.available(cfg.state.windows), {
      actor: actorName(o.actor),
      reason: o.reason,
      source: file,
    });
    say(
      r.created
        ? `rules publish: stored ${r.version} as a candidate (txmon backtest --rules ${r.version}; txmon rules promote ${r.version})`
        : `rules publish: this text is already published as ${r.version}; nothing stored`,
    );
    return `${r.version}\n`;
  });
}

/** `txmon rules list`. */
export async function listCommand(cfg: TxmonConfig, json: boolean): Promise<string> {
  return withPool(cfg, async (pool) => {
    const sets = await listRuleSets(pool);
    if (json) return `${JSON.stringify(sets)}\n`;
    if (sets.length === 0)
      return 'no rule sets published: the processors decide with TXMON_RULES_FILE (txmon rules publish FILE --reason R)\n';
    const lines = ['version                     state      published (UTC)      rules  author                reason'];
    for (const s of sets)
      lines.push(
        `${s.version.padEnd(27)} ${s.state.padEnd(10)} ${s.createdAt.toISOString().slice(0, 19)}  ${String(s.ruleCount).padStart(5)}  ${s.author.padEnd(20)}  ${s.reason}`,
      );
    if (!sets.some((s) => s.state === 'active')) lines.push('(none active: the processors decide with TXMON_RULES_FILE)');
    return `${lines.join('\n')}\n`;
  });
}

/** `txmon rules show`: the text as published. */
export async function showCommand(cfg: TxmonConfig, version: string): Promise<string> {
  return withPool(cfg, async (pool) => {
    const { text } = await loadRuleSetText(pool, version);
    return text.endsWith('\n') ? text : `${text}\n`;
  });
}

/** `txmon rules shadow-report`. */
export async function shadowReportCommand(cfg: TxmonConfig, version: string, json: boolean): Promise<string> {
  return withPool(cfg, async (pool) => {
    const r = await shadowReport(pool, version);
    if (json) return `${JSON.stringify(r)}\n`;
    const n = (x: number) => x.toLocaleString('en');
    return `${[
      `rule set ${r.version} (${r.state}): ${n(r.transactions)} transactions decided in shadow beside the live rules`,
      '',
      ...transitionLines(r.transitions, 'live', 'shadow'),
      `  changed: ${n(r.changed)} of ${n(r.transactions)}`,
      '',
      ...alertsPerDayLines(r.alertsPerDay, 'live', 'shadow'),
    ].join('\n')}\n`;
  });
}

/** `txmon rules promote|shadow|rollback`. */
export async function lifecycleCommand(
  cfg: TxmonConfig,
  action: 'promote' | 'shadow' | 'rollback',
  version: string | undefined,
  o: LifecycleOptions,
  say: (line: string) => void = () => {},
): Promise<string> {
  const actor = actorName(o.actor);
  return withPool(cfg, async (pool) => {
    if (action === 'rollback') {
      const r = await rollbackRuleSet(pool, actor, o.reason);
      return `rules rollback: ${r.from} retired, ${r.to} active again\n`;
    }
    if (version === undefined) throw new InputError(`rules ${action}: give the rule-set version (txmon rules list)`);
    if (action === 'shadow') {
      const r = await shadowRuleSet(pool, version, actor, o.reason);
      return `rules shadow: ${version} decides beside the rules in force${r.replaced ? `; ${r.replaced} back to candidate` : ''} (txmon rules shadow-report ${version})\n`;
    }
    await checkBeforePromotion(pool, cfg, { rules: version }, o, say);
    if (o.canary !== undefined) return await startCanary(pool, cfg, 'rules', version, o.canary, o);
    const r = await promoteRuleSet(pool, version, actor, o.reason);
    return `rules promote: ${version} is active${r.previous ? `; ${r.previous} retired` : ''}\n`;
  });
}
