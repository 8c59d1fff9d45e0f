// Detection changes: rule-set versions and their states, a rule set's shadow report (the live
// decisions against the shadow set's, per transition and per day), staged rollouts with each arm's
// decisions and the last guardrail check. Everyone reads; admins shadow or promote a rule set and
// start, grow, complete or roll back a rollout, each with a reason and an explicit confirmation; every
// rollout's audit trail (who took each step, and why).
import { useEffect, useState } from 'preact/hooks';
import { api, type Role } from './api.ts';
import { message, Notices, useConfirmed } from './common.tsx';

interface RuleSet {
  version: string;
  name: string;
  state: string;
  rules: number;
  author: string;
  reason: string;
  created_at: string;
}
type Counts = { ALLOW: number; REVIEW: number; BLOCK: number };
interface ShadowReport {
  version: string;
  transactions: number;
  changed: number;
  transitions: { ALLOW: Counts; REVIEW: Counts; BLOCK: Counts };
  alerts_per_day: Array<{ day: string; live: number; shadow: number }>;
}
interface Arm {
  decisions: number;
  alerts: number;
  reviews: number;
}
interface Rollout {
  id: number;
  kind: string;
  version: string;
  control_version: string | null;
  share: number;
  state: string;
  started_at: string;
  arms: { canary: Arm; control: Arm } | null;
  evidence: unknown;
  history: RolloutStep[];
}
interface RolloutStep {
  at: string;
  actor: string;
  action: string;
  detail: { share?: number; from?: number; to?: number; reason?: string | null; evidence?: { crossed?: unknown } } | null;
}

/** One audited step of a rollout in words: what was done (the shares are percentages), and why. */
function stepText(h: RolloutStep): string {
  const d = h.detail ?? {};
  const what =
    h.action === 'rollout.start'
      ? `started at ${String(d.share)} %`
      : h.action === 'rollout.grow'
        ? `grown from ${String(d.from)} % to ${String(d.to)} %`
        : h.action === 'rollout.complete'
          ? 'completed: promoted for every account'
          : h.action === 'rollout.rollback'
            ? 'rolled back'
            : h.action;
  const crossed = d.evidence?.crossed;
  const guard = Array.isArray(crossed) && crossed.length > 0 ? ` (guardrail crossed: ${crossed.map(String).join(', ')})` : '';
  return `${what}${guard}${d.reason ? ` · “${d.reason}”` : ''}`;
}
interface Quality {
  precision: number;
  recall: number;
  pr_auc: number;
  alerts: number;
}
interface BacktestResult {
  candidate: { ruleset_version: string; model_version: string | null };
  range: { from: string; to: string };
  transactions: number;
  changed: number;
  risk_changed: number;
  transitions: { ALLOW: Counts; REVIEW: Counts; BLOCK: Counts };
  labelled: { rows: number; positives: number; before: Quality; after: Quality } | null;
  flagged_segments: Array<{ dimension: string; value: string; transactions: number; rate_before: number; rate_after: number }>;
  changed_sample: Array<{
    transaction_id: string;
    account_id: string;
    event_time: string;
    from: string;
    to: string;
    risk_before: number;
    risk_after: number;
    rules: string[];
  }>;
  unstored_fields: string[];
}

/** A transition table: rows the stored (or live) decision, columns the candidate's (or shadow's). */
function Transitions({ t, caption }: { t: { ALLOW: Counts; REVIEW: Counts; BLOCK: Counts }; caption: string }) {
  return (
    <table class="transitions">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">before / after</th>
          {KINDS.map((k) => (
            <th scope="col">{k}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {KINDS.map((a) => (
          <tr>
            <th scope="row">{a}</th>
            {KINDS.map((b) => (
              <td class="num">{t[a][b].toLocaleString('en')}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Backtest({ r }: { r: BacktestResult }) {
  const q = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
  return (
    <section aria-labelledby="bt-h">
      <h2 id="bt-h">Backtest of {r.candidate.ruleset_version}</h2>
      <p>
        {r.transactions.toLocaleString('en')} stored decisions from {r.range.from} to {r.range.to}, decided again with rule set{' '}
        {r.candidate.ruleset_version} and {r.candidate.model_version ?? 'no model'}: {r.changed.toLocaleString('en')} change, and{' '}
        {r.risk_changed.toLocaleString('en')} keep their decision with another risk score.
      </p>
      <Transitions t={r.transitions} caption="Stored decision (rows) against the candidate's (columns)" />
      {r.labelled ? (
        <table class="quality">
          <caption>
            On {r.labelled.rows.toLocaleString('en')} labelled transactions ({r.labelled.positives.toLocaleString('en')} fraud)
          </caption>
          <thead>
            <tr>
              <th scope="col">Decisions</th>
              <th scope="col">Precision</th>
              <th scope="col">Recall</th>
              <th scope="col">PR AUC</th>
              <th scope="col">Alerts</th>
            </tr>
          </thead>
          <tbody>
            {(['before', 'after'] as const).map((k) => (
              <tr>
                <th scope="row">{k}</th>
                <td class="num">{q(r.labelled![k].precision)}</td>
                <td class="num">{q(r.labelled![k].recall)}</td>
                <td class="num">{q(r.labelled![k].pr_auc)}</td>
                <td class="num">{r.labelled![k].alerts.toLocaleString('en')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No labelled transactions in the range: precision and recall cannot be compared.</p>
      )}
      <p>
        {r.flagged_segments.length === 0
          ? 'No segment’s alert rate moves by more than the fairness factor.'
          : `Segments whose alert rate moves by more than the fairness factor: ${r.flagged_segments
              .map((g) => `${g.dimension}=${g.value} ${pct(g.rate_before)} → ${pct(g.rate_after)}`)
              .join('; ')}.`}
      </p>
      {r.changed_sample.length > 0 && (
        <table class="changed">
          <caption>
            Changed decisions (the first {r.changed_sample.length} of {r.changed.toLocaleString('en')})
          </caption>
          <thead>
            <tr>
              <th scope="col">Transaction</th>
              <th scope="col">Account</th>
              <th scope="col">Event time</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
              <th scope="col">Rules</th>
            </tr>
          </thead>
          <tbody>
            {r.changed_sample.map((c) => (
              <tr>
                <td>{c.transaction_id}</td>
                <td>{c.account_id}</td>
                <td>{c.event_time}</td>
                <td>
                  {c.from} ({c.risk_before.toFixed(2)})
                </td>
                <td>
                  {c.to} ({c.risk_after.toFixed(2)})
                </td>
                <td>{c.rules.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

type Action =
  | { kind: 'rules-promote' | 'rules-shadow'; version: string }
  | { kind: 'rollout-start'; version: string; share: number }
  | { kind: 'rollout-grow'; share: number }
  | { kind: 'rollout-complete' | 'rollout-rollback' };

const KINDS = ['ALLOW', 'REVIEW', 'BLOCK'] as const;
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)} %`;

function describe(a: Action): string {
  switch (a.kind) {
    case 'rules-promote':
      return `Promote rule set ${a.version}`;
    case 'rules-shadow':
      return `Run rule set ${a.version} in shadow`;
    case 'rollout-start':
      return `Roll rule set ${a.version} out to ${pct(a.share)} of accounts`;
    case 'rollout-grow':
      return `Grow the running rollout to ${pct(a.share)} of accounts`;
    case 'rollout-complete':
      return 'Complete the running rollout (it decides for every account)';
    case 'rollout-rollback':
      return 'Roll the running rollout back';
  }
}

export function Detection({ role }: { role: Role }) {
  const admin = role === 'admin';
  const [ruleSets, setRuleSets] = useState<RuleSet[] | null>(null);
  const [rollouts, setRollouts] = useState<Rollout[] | null>(null);
  const [report, setReport] = useState<ShadowReport | null>(null);
  const [backtest, setBacktest] = useState<BacktestResult | null>(null);
  const [testing, setTesting] = useState('');
  const [growTo, setGrowTo] = useState('');
  const [startShare, setStartShare] = useState('0.1');

  const { ask, panel, error, setError, done } = useConfirmed<Action>(
    describe,
    async (a, why) => {
      if (a.kind === 'rules-promote') await api('POST', `/rules/${encodeURIComponent(a.version)}/promote`, why);
      else if (a.kind === 'rules-shadow') await api('POST', `/rules/${encodeURIComponent(a.version)}/shadow`, why);
      else if (a.kind === 'rollout-start')
        await api('POST', '/rollouts', { kind: 'rules', version: a.version, share: a.share, ...why });
      else if (a.kind === 'rollout-grow') await api('POST', '/rollouts/grow', { share: a.share, ...why });
      else await api('POST', a.kind === 'rollout-complete' ? '/rollouts/complete' : '/rollouts/rollback', why);
      return `${describe(a)}: done.`;
    },
    () => load(),
  );

  const load = async () => {
    try {
      const [r, o] = await Promise.all([api<RuleSet[]>('GET', '/rules'), api<Rollout[]>('GET', '/rollouts')]);
      setRuleSets(r);
      setRollouts(o);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => void load(), []);

  const showReport = async (version: string) => {
    setError('');
    try {
      setReport(await api<ShadowReport>('GET', `/rules/${encodeURIComponent(version)}/shadow-report`));
    } catch (err) {
      setError(message(err));
    }
  };

  const runBacktest = async (version: string) => {
    setError('');
    setBacktest(null);
    setTesting(`Backtesting ${version} over the latest stored decisions…`);
    try {
      setBacktest(await api<BacktestResult>('POST', '/backtests', { rules: version }));
      setTesting('');
    } catch (err) {
      setTesting('');
      setError(message(err));
    }
  };

  const running = rollouts?.find((r) => r.state === 'running') ?? null;

  return (
    <main class="detection">
      <h1>Detection changes</h1>
      <Notices error={error} done={done} />
      {panel}
      <section aria-labelledby="rollouts-h">
        <h2 id="rollouts-h">Rollouts</h2>
        {rollouts === null ? (
          <p>Loading…</p>
        ) : rollouts.length === 0 ? (
          <p>No rollout yet.</p>
        ) : (
          <table class="rollouts">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Kind</th>
                <th scope="col">Version</th>
                <th scope="col">Against</th>
                <th scope="col">Share</th>
                <th scope="col">State</th>
                <th scope="col">Canary decisions / alerts</th>
                <th scope="col">Control decisions / alerts</th>
              </tr>
            </thead>
            <tbody>
              {rollouts.map((r) => (
                <tr>
                  <td>{new Date(r.started_at).toISOString()}</td>
                  <td>{r.kind}</td>
                  <td>{r.version}</td>
                  <td>{r.control_version ?? '–'}</td>
                  <td>{pct(r.share)}</td>
                  <td>{r.state}</td>
                  <td>
                    {r.arms
                      ? `${r.arms.canary.decisions.toLocaleString('en')} / ${r.arms.canary.alerts.toLocaleString('en')}`
                      : '–'}
                  </td>
                  <td>
                    {r.arms
                      ? `${r.arms.control.decisions.toLocaleString('en')} / ${r.arms.control.alerts.toLocaleString('en')}`
                      : '–'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {rollouts !== null &&
          rollouts.map((r) => (
            <details class="trail">
              <summary>
                Audit trail of rollout {r.id} ({r.kind} {r.version})
              </summary>
              <ol class="history">
                {r.history.map((h) => (
                  <li>
                    <time dateTime={h.at}>{new Date(h.at).toISOString()}</time> · {h.actor} · {stepText(h)}
                  </li>
                ))}
              </ol>
            </details>
          ))}
        {running && (
          <details>
            <summary>The last guardrail check of the running rollout</summary>
            <pre class="evidence">{JSON.stringify(running.evidence, null, 2)}</pre>
          </details>
        )}
        {admin && rollouts !== null && !running && (
          <div class="actions">
            <label for="start-share">Share of accounts for a new rollout (0–1)</label>
            <input
              id="start-share"
              inputMode="decimal"
              value={startShare}
              onInput={(e) => setStartShare((e.target as HTMLInputElement).value)}
            />
            <span>then “Roll out…” on a rule set below.</span>
          </div>
        )}
        {admin && running && (
          <div class="actions">
            <label for="grow">Grow to share (0–1)</label>
            <input
              id="grow"
              inputMode="decimal"
              value={growTo}
              onInput={(e) => setGrowTo((e.target as HTMLInputElement).value)}
            />
            <button
              type="button"
              disabled={!(Number(growTo) > running.share && Number(growTo) <= 1)}
              onClick={() => ask({ kind: 'rollout-grow', share: Number(growTo) })}
            >
              Grow…
            </button>
            <button type="button" class="secondary" onClick={() => ask({ kind: 'rollout-complete' })}>
              Complete…
            </button>
            <button type="button" class="secondary" onClick={() => ask({ kind: 'rollout-rollback' })}>
              Roll back…
            </button>
          </div>
        )}
      </section>
      <section aria-labelledby="rules-h">
        <h2 id="rules-h">Rule sets</h2>
        {ruleSets === null ? (
          <p>Loading…</p>
        ) : ruleSets.length === 0 ? (
          <p>No rule set published: the processors use TXMON_RULES_FILE (txmon rules publish).</p>
        ) : (
          <table class="rule-sets">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Rules</th>
                <th scope="col">Author</th>
                <th scope="col">Reason</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {ruleSets.map((r) => (
                <tr>
                  <td>{r.version}</td>
                  <td>{r.state}</td>
                  <td>{r.rules}</td>
                  <td>{r.author}</td>
                  <td>{r.reason}</td>
                  <td class="row-actions">
                    <button type="button" class="secondary" onClick={() => void showReport(r.version)}>
                      Shadow report
                    </button>
                    {admin && (
                      <button type="button" class="secondary" onClick={() => void runBacktest(r.version)}>
                        Backtest
                      </button>
                    )}
                    {admin && r.state !== 'active' && (
                      <button type="button" onClick={() => ask({ kind: 'rules-promote', version: r.version })}>
                        Promote…
                      </button>
                    )}
                    {admin && r.state !== 'active' && rollouts !== null && !running && (
                      <button
                        type="button"
                        class="secondary"
                        disabled={!(Number(startShare) > 0 && Number(startShare) <= 1)}
                        onClick={() => ask({ kind: 'rollout-start', version: r.version, share: Number(startShare) })}
                      >
                        Roll out…
                      </button>
                    )}
                    {admin && r.state === 'candidate' && (
                      <button type="button" class="secondary" onClick={() => ask({ kind: 'rules-shadow', version: r.version })}>
                        Shadow…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {testing && <p role="status">{testing}</p>}
      {backtest && <Backtest r={backtest} />}
      {report && (
        <section aria-labelledby="report-h">
          <h2 id="report-h">Shadow report of {report.version}</h2>
          <p>
            {report.transactions.toLocaleString('en')} transactions decided while in shadow; {report.changed.toLocaleString('en')}{' '}
            decided otherwise than live.
          </p>
          <Transitions t={report.transitions} caption="Live decision (rows) against the shadow rule set's (columns)" />
          <table class="per-day">
            <caption>REVIEW and BLOCK per day</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Live</th>
                <th scope="col">Shadow</th>
              </tr>
            </thead>
            <tbody>
              {report.alerts_per_day.map((d) => (
                <tr>
                  <td>{d.day}</td>
                  <td class="num">{d.live.toLocaleString('en')}</td>
                  <td class="num">{d.shadow.toLocaleString('en')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </main>
  );
}
