/** `txmon rollout ...` and the `--canary` of a promotion: start, grow, complete, roll back, status. */
import type { TxmonConfig } from '../config/config.ts';
import { parseShare } from '../detection/canary.ts';
import {
  armCounts,
  completeRollout,
  growRollout,
  listRollouts,
  rollBackRollout,
  startRollout,
  type RolloutKind,
  type StepFault,
} from '../models/rollout.ts';
import { InputError } from '../platform/errors.ts';
import { withPool, type Pool } from '../platform/mysql.ts';
import { actorName } from './context.ts';

/** The crash tests' fault (TXMON_FAULT_ROLLOUT_STEP): SIGKILL after a step's change, before its commit. */
function faultOf(cfg: TxmonConfig): StepFault {
  return cfg.detection.faultRolloutStep ? () => process.kill(process.pid, 'SIGKILL') : () => {};
}

/** A share option's basis points, or an InputError naming it. */
export function shareOf(what: string, text: string): number {
  const bp = parseShare(text);
  if (bp === null) throw new InputError(`${what}: ${JSON.stringify(text)} is not a share of accounts in (0, 100%] (e.g. 10%)`);
  return bp;
}

/** `txmon rules|model promote <v> --canary S`: starts a rollout instead of promoting for every account. */
export async function startCanary(
  pool: Pool,
  cfg: TxmonConfig,
  kind: RolloutKind,
  version: string,
  canary: string,
  o: { actor?: string; reason?: string },
): Promise<string> {
  const r = await startRollout(
    pool,
    kind,
    version,
    shareOf('--canary', canary),
    { actor: actorName(o.actor), ...(o.reason !== undefined && { reason: o.reason }) },
    faultOf(cfg),
  );
  return `rollout ${r.id}: ${kind === 'rules' ? 'rule set' : 'model'} ${version} decides for ${r.shareBp / 100}% of accounts (the rest stay on ${r.controlVersion ?? (kind === 'rules' ? 'TXMON_RULES_FILE' : 'no model')}); txmon rollout status|grow|complete|rollback\n`;
}

/** `txmon rollout grow|complete|rollback`. */
export async function stepCommand(
  cfg: TxmonConfig,
  action: 'grow' | 'complete' | 'rollback',
  share: string | undefined,
  o: { actor?: string; reason?: string },
): Promise<string> {
  const who = { actor: actorName(o.actor), ...(o.reason !== undefined && { reason: o.reason }) };
  return withPool(cfg, async (pool) => {
    if (action === 'grow') {
      const r = await growRollout(pool, shareOf('share', share ?? ''), who, faultOf(cfg));
      return `rollout ${r.id}: ${r.version} now decides for ${r.shareBp / 100}% of accounts\n`;
    }
    if (action === 'complete') {
      const r = await completeRollout(pool, who, faultOf(cfg));
      return `rollout ${r.id}: completed; ${r.version} is active for every account\n`;
    }
    const r = await rollBackRollout(pool, who, null, undefined, faultOf(cfg));
    return `rollout ${r?.id}: rolled back; every account is back on ${r?.controlVersion ?? 'what was active'}\n`;
  });
}

/** `txmon rollout status`. */
export async function statusCommand(cfg: TxmonConfig, json: boolean): Promise<string> {
  return withPool(cfg, async (pool) => {
    const recent = await listRollouts(pool, 10);
    const running = recent.find((r) => r.state === 'running') ?? null;
    const counts = running === null ? null : await armCounts(pool, running.id);
    if (json) return `${JSON.stringify({ running, counts, recent })}\n`;
    const lines: string[] = [];
    if (running === null) lines.push('no rollout is running');
    else {
      const rate = (a: { decisions: number; alerts: number }) =>
        a.decisions === 0 ? 'n/a' : `${((100 * a.alerts) / a.decisions).toFixed(2)}%`;
      lines.push(
        `rollout ${running.id}: ${running.kind === 'rules' ? 'rule set' : 'model'} ${running.version} at ${running.shareBp / 100}% of accounts since ${running.startedAt.toISOString()} (control: ${running.controlVersion ?? 'none'})`,
        `  canary   ${counts?.canary.decisions.toLocaleString('en')} decisions, alert rate ${counts ? rate(counts.canary) : 'n/a'}`,
        `  control  ${counts?.control.decisions.toLocaleString('en')} decisions, alert rate ${counts ? rate(counts.control) : 'n/a'}`,
        `  last guardrail check: ${running.evidence === null ? 'none yet' : `${running.evidence.at}, ${running.evidence.crossed.length === 0 ? 'nothing crossed' : running.evidence.crossed.join('; ')}`}`,
      );
    }
    lines.push('', 'id  kind   version                               share  state        started (UTC)        why it ended');
    for (const r of recent)
      lines.push(
        `${String(r.id).padEnd(3)} ${r.kind.padEnd(6)} ${r.version.padEnd(37)} ${`${r.shareBp / 100}%`.padStart(6)}  ${r.state.padEnd(12)} ${r.startedAt.toISOString().slice(0, 19)}  ${r.state === 'rolled_back' && r.evidence?.crossed.length ? `guardrail: ${r.evidence.crossed.join('; ')}` : ''}`,
      );
    return `${lines.join('\n')}\n`;
  });
}
