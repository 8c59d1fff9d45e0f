// Detection changes: rule-set versions and their states, a rule set's shadow report (the live
// decisions against the shadow set's, per transition and per day), staged rollouts with each arm's
// decisions and the last guardrail check. Everyone reads; admins shadow or promote a rule set and
// grow, complete or roll back a rollout, each with a reason and an explicit confirmation.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Role } from './api.ts';

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
}
type Action =
  | { kind: 'rules-promote' | 'rules-shadow'; version: string }
  | { kind: 'rollout-grow'; share: number }
  | { kind: 'rollout-complete' | 'rollout-rollback' };

const KINDS = ['ALLOW', 'REVIEW', 'BLOCK'] as const;
const message = (err: unknown) => (err instanceof ApiError ? err.message : 'the API could not be reached');
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)} %`;

function describe(a: Action): string {
  switch (a.kind) {
    case 'rules-promote':
      return `Promote rule set ${a.version}`;
    case 'rules-shadow':
      return `Run rule set ${a.version} in shadow`;
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
  const [pending, setPending] = useState<Action | null>(null);
  const [reason, setReason] = useState('');
  const [growTo, setGrowTo] = useState('');
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const reasonField = useRef<HTMLInputElement>(null);
  useEffect(() => reasonField.current?.focus(), [pending]);

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

  const confirm = async () => {
    if (!pending) return;
    setBusy(true);
    setError('');
    setDone('');
    const why = reason.trim() ? { reason: reason.trim() } : {};
    try {
      if (pending.kind === 'rules-promote') {
        await api('POST', `/rules/${encodeURIComponent(pending.version)}/promote`, why);
      } else if (pending.kind === 'rules-shadow') {
        await api('POST', `/rules/${encodeURIComponent(pending.version)}/shadow`, why);
      } else if (pending.kind === 'rollout-grow') {
        await api('POST', '/rollouts/grow', { share: pending.share, ...why });
      } else {
        await api('POST', pending.kind === 'rollout-complete' ? '/rollouts/complete' : '/rollouts/rollback', why);
      }
      setDone(`${describe(pending)}: done.`);
      setPending(null);
      setReason('');
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
      await load();
    }
  };

  const running = rollouts?.find((r) => r.state === 'running') ?? null;

  return (
    <main class="detection">
      <h1>Detection changes</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p class="done" role="status">
          {done}
        </p>
      )}
      {pending && (
        <section class="confirm" aria-labelledby="confirm-h">
          <h2 id="confirm-h">{describe(pending)}?</h2>
          <p>Running processors take the change within seconds; it is audited under your name.</p>
          <label for="reason">Reason</label>
          <input
            ref={reasonField}
            id="reason"
            maxLength={500}
            value={reason}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)}
          />
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void confirm()}>
              Confirm
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => setPending(null)}>
              Cancel
            </button>
          </div>
        </section>
      )}
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
        {running && (
          <details>
            <summary>The last guardrail check of the running rollout</summary>
            <pre class="evidence">{JSON.stringify(running.evidence, null, 2)}</pre>
          </details>
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
              onClick={() => setPending({ kind: 'rollout-grow', share: Number(growTo) })}
            >
              Grow…
            </button>
            <button type="button" class="secondary" onClick={() => setPending({ kind: 'rollout-complete' })}>
              Complete…
            </button>
            <button type="button" class="secondary" onClick={() => setPending({ kind: 'rollout-rollback' })}>
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
                    {admin && r.state !== 'active' && (
                      <button type="button" onClick={() => setPending({ kind: 'rules-promote', version: r.version })}>
                        Promote…
                      </button>
                    )}
                    {admin && r.state === 'candidate' && (
                      <button
                        type="button"
                        class="secondary"
                        onClick={() => setPending({ kind: 'rules-shadow', version: r.version })}
                      >
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
      {report && (
        <section aria-labelledby="report-h">
          <h2 id="report-h">Shadow report of {report.version}</h2>
          <p>
            {report.transactions.toLocaleString('en')} transactions decided while in shadow; {report.changed.toLocaleString('en')}{' '}
            decided otherwise than live.
          </p>
          <table class="transitions">
            <caption>Live decision (rows) against the shadow rule set's (columns)</caption>
            <thead>
              <tr>
                <th scope="col">live / shadow</th>
                {KINDS.map((k) => (
                  <th scope="col">{k}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {KINDS.map((live) => (
                <tr>
                  <th scope="row">{live}</th>
                  {KINDS.map((shadow) => (
                    <td class="num">{report.transitions[live][shadow].toLocaleString('en')}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
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
