// One alert: the transaction (no card data: the API never returns any), the decision and its risk
// score, each rule hit's reason, the model's score against its threshold and the features that
// drove it, the triage actions and the history. A 409 (someone else changed the alert) is shown and
// the alert read again.
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { api, ApiError, type Role } from './api.ts';
import { ChartView } from './chart.tsx';
import { money } from './money.ts';
import { message } from './common.tsx';
import type { AlertItem } from './alert-queue.tsx';

interface Aggregates {
  base_currency: string;
  as_of_event_time: string;
  windows: Array<{
    window: string;
    count: number;
    sum_base_minor: number;
    distinct_merchants: number;
    distinct_countries: number;
  }>;
  activity: Array<{
    window: string;
    bucket_ms: number;
    buckets: Array<{ start: string; count: number; sum_base_minor: number }>;
  }>;
}

type Activity = Aggregates['activity'][number];

/** A window's buckets from its oldest with an event to the account's head, the empty ones filled in. */
function bucketsOf(a: Activity, headMs: number): Array<{ start: number; count: number; sum: number }> {
  const first = a.buckets[0];
  if (!first) return [];
  const byStart = new Map(a.buckets.map((b) => [Date.parse(b.start), b]));
  const out: Array<{ start: number; count: number; sum: number }> = [];
  const last = Math.floor(headMs / a.bucket_ms) * a.bucket_ms;
  for (let t = Date.parse(first.start); t <= last; t += a.bucket_ms) {
    const b = byStart.get(t);
    out.push({ start: t, count: b?.count ?? 0, sum: b?.sum_base_minor ?? 0 });
  }
  return out;
}

const hhmm = (ms: number, withSeconds: boolean) => new Date(ms).toISOString().slice(11, withSeconds ? 19 : 16);

/**
 * The account's recent activity as a timeline: transactions per bucket of one window (the largest
 * first: the last 24 hours in 15-minute steps), the bucket holding this alert's transaction marked,
 * and the same figures as a table with the exact sums.
 */
function ActivityTimeline({ agg, alertTime }: { agg: Aggregates; alertTime: string }) {
  const [chosen, setChosen] = useState(agg.activity.length - 1);
  const a = agg.activity[chosen];
  if (!a) return null;
  const headMs = Date.parse(agg.as_of_event_time);
  const rows = bucketsOf(a, headMs);
  const alertMs = Date.parse(alertTime);
  const mine = (start: number) => alertMs >= start && alertMs < start + a.bucket_ms;
  const seconds = a.bucket_ms < 60_000;
  const total = rows.reduce((n, r) => n + r.count, 0);
  return (
    <>
      <h3>Recent activity</h3>
      <div class="actions" role="group" aria-label="Window of the timeline">
        {agg.activity.map((w, i) => (
          <button type="button" aria-pressed={i === chosen} onClick={() => setChosen(i)}>
            {w.window}
          </button>
        ))}
      </div>
      {rows.length === 0 ? (
        <p>No transaction in the {a.window} window.</p>
      ) : (
        <>
          <ChartView
            label={`Transactions of the account per ${a.bucket_ms / 1000}-second bucket over its ${a.window} window: ${total} in ${rows.length} buckets, the alert's bucket in orange`}
            height={200}
            config={{
              type: 'bar',
              data: {
                labels: rows.map((r) => hhmm(r.start, seconds)),
                datasets: [
                  {
                    label: 'transactions',
                    data: rows.map((r) => r.count),
                    backgroundColor: rows.map((r) => (mine(r.start) ? '#b35900' : '#0a58ca')),
                  },
                ],
              },
              options: {
                plugins: { legend: { display: false } },
                scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'transactions' } } },
              },
            }}
          />
          <details>
            <summary>The {a.window} window's buckets as a table</summary>
            <table class="activity">
              <thead>
                <tr>
                  <th scope="col">From (UTC)</th>
                  <th scope="col">Transactions</th>
                  <th scope="col">Sum ({agg.base_currency})</th>
                </tr>
              </thead>
              <tbody>
                {rows
                  .filter((r) => r.count > 0)
                  .map((r) => (
                    <tr class={mine(r.start) ? 'current' : ''}>
                      <td>
                        <time dateTime={new Date(r.start).toISOString()}>{hhmm(r.start, seconds)}</time>
                        {mine(r.start) ? ' (this alert)' : ''}
                      </td>
                      <td class="num">{r.count}</td>
                      <td class="num">{money(r.sum, agg.base_currency)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </>
  );
}

/**
 * The account around the alert: its live windows and its recent activity bucket by bucket (from the
 * state store, as the ingest keeps them), and its other alerts, newest first, as a timeline.
 */
function Account({ accountId, current, alertTime }: { accountId: string; current: string; alertTime: string }) {
  const [agg, setAgg] = useState<Aggregates | string | null>(null);
  const [recent, setRecent] = useState<AlertItem[] | null>(null);
  useEffect(() => {
    api<Aggregates>('GET', `/accounts/${encodeURIComponent(accountId)}/aggregates`).then(setAgg, (err: unknown) =>
      setAgg(message(err)),
    );
    api<{ items: AlertItem[] }>('GET', `/alerts?account_id=${encodeURIComponent(accountId)}&limit=20`).then(
      (p) => setRecent(p.items),
      () => setRecent([]),
    );
  }, [accountId]);
  return (
    <section aria-labelledby="acct-h">
      <h2 id="acct-h">Account {accountId}</h2>
      <h3>Live windows</h3>
      {agg === null ? (
        <p>Loading…</p>
      ) : typeof agg === 'string' ? (
        <p>{agg}</p>
      ) : (
        <table class="windows">
          <caption>As of event time {new Date(agg.as_of_event_time).toISOString()}</caption>
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col">Transactions</th>
              <th scope="col">Sum ({agg.base_currency})</th>
              <th scope="col">Merchants</th>
              <th scope="col">Countries</th>
            </tr>
          </thead>
          <tbody>
            {agg.windows.map((w) => (
              <tr>
                <td>{w.window}</td>
                <td class="num">{w.count}</td>
                <td class="num">{money(w.sum_base_minor, agg.base_currency)}</td>
                <td class="num">{w.distinct_merchants}</td>
                <td class="num">{w.distinct_countries}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {agg !== null && typeof agg !== 'string' && <ActivityTimeline agg={agg} alertTime={alertTime} />}
      <h3>Alerts on this account</h3>
      {recent === null ? (
        <p>Loading…</p>
      ) : (
        <ol class="timeline">
          {recent.map((a) => (
            <li class={a.alert_id === current ? 'current' : ''}>
              <time dateTime={a.event_time}>{new Date(a.event_time).toISOString()}</time> ·{' '}
              <span class={`decision ${a.decision.toLowerCase()}`}>{a.decision}</span> · {a.status} ·{' '}
              {a.alert_id === current ? <strong>this alert</strong> : <Link href={`/alerts/${a.alert_id}`}>{a.summary}</Link>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

interface Driver {
  name: string;
  value: number | null;
  share: number;
  percentile: number | null;
}
/** The list item's fields, and what only one alert's page shows. */
interface Detail extends AlertItem {
  decision_detail: {
    model_version: string | null;
    model_score: number | null;
    ruleset_version: string;
    rule_hits: Array<{ ruleId: string; ruleVersion: string; severity: string; action: string; detail: string; snoozed: boolean }>;
    explanation: {
      summary?: string;
      model?: { score: number; threshold: number; percentile: number; thresholdPercentile: number; drivers: Driver[] } | null;
    } | null;
    decided_at: string;
  };
  transaction: {
    type: string;
    amount_minor: number;
    currency: string;
    merchant_id: string;
    mcc: string;
    merchant_country: string;
    channel: string;
    event_time: string;
  };
  history: Array<{ at: string; actor: string; action: string; detail: unknown }>;
}

const CLOSED = new Set(['CONFIRMED_FRAUD', 'FALSE_POSITIVE', 'CLOSED']);
const pct = (p: number | null) => (p === null ? '–' : `${(p * 100).toFixed(1)} %`);

export function AlertDetail({ id, role }: { id: string; role: Role }) {
  const [alert, setAlert] = useState<Detail | null>(null);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const canTriage = role === 'analyst' || role === 'admin';

  const load = async () => {
    try {
      setAlert(await api<Detail>('GET', `/alerts/${encodeURIComponent(id)}`));
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => void load(), [id]);

  const act = async (path: string, body?: unknown) => {
    setBusy(true);
    setError('');
    try {
      await api('POST', `/alerts/${encodeURIComponent(id)}${path}`, body);
      setNote('');
    } catch (err) {
      setError(
        err instanceof ApiError
          ? err.status === 409
            ? `Not done: the alert changed meanwhile (${err.message}). It has been read again.`
            : err.message
          : 'the API could not be reached',
      );
    } finally {
      setBusy(false);
      await load();
    }
  };

  if (!alert)
    return (
      <main>
        <p>
          <Link href="/alerts">← Alerts</Link>
        </p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </main>
    );
  const d = alert.decision_detail;
  const model = d.explanation?.model ?? null;
  const t = alert.transaction;
  return (
    <main class="detail">
      <p>
        <Link href="/alerts">← Alerts</Link>
      </p>
      <h1>
        <span class={`decision ${alert.decision.toLowerCase()}`}>{alert.decision}</span> {alert.summary}
      </h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby="tx-h">
        <h2 id="tx-h">Transaction</h2>
        <dl class="facts">
          <dt>Transaction</dt>
          <dd>{alert.transaction_id}</dd>
          <dt>Account</dt>
          <dd>{alert.account_id}</dd>
          <dt>Amount</dt>
          <dd>{money(t.amount_minor, t.currency)}</dd>
          <dt>Type, channel</dt>
          <dd>
            {t.type}, {t.channel}
          </dd>
          <dt>Merchant</dt>
          <dd>
            {t.merchant_id} (MCC {t.mcc}, {t.merchant_country})
          </dd>
          <dt>Event time</dt>
          <dd>{new Date(t.event_time).toISOString()}</dd>
        </dl>
      </section>
      <section aria-labelledby="dec-h">
        <h2 id="dec-h">Decision</h2>
        <dl class="facts">
          <dt>Risk score</dt>
          <dd>{alert.risk_score.toFixed(3)}</dd>
          <dt>Status</dt>
          <dd>{alert.status}</dd>
          <dt>Rule set</dt>
          <dd>{d.ruleset_version}</dd>
          <dt>Model</dt>
          <dd>{d.model_version ?? 'none'}</dd>
          {model && (
            <>
              <dt>Model score</dt>
              <dd>
                {model.score.toFixed(3)} against a threshold of {model.threshold.toFixed(3)} (percentile {pct(model.percentile)}{' '}
                against {pct(model.thresholdPercentile)})
              </dd>
            </>
          )}
        </dl>
        <h3>Rule hits</h3>
        {d.rule_hits.length === 0 ? (
          <p>No rule hit.</p>
        ) : (
          <ul class="hits">
            {d.rule_hits.map((h) => (
              <li>
                <strong>{h.ruleId}</strong> ({h.severity}, {h.action}
                {h.snoozed ? ', snoozed' : ''}): {h.detail}
              </li>
            ))}
          </ul>
        )}
        {model && model.drivers.length > 0 && (
          <>
            <h3>What drove the model's score</h3>
            <ChartView
              label={`Percentile in the training data of each feature that drove the score: ${model.drivers
                .map((f) => `${f.name} ${pct(f.percentile)}`)
                .join(', ')}`}
              height={Math.max(140, 34 * model.drivers.length + 60)}
              config={{
                type: 'bar',
                data: {
                  labels: model.drivers.map((f) => f.name),
                  datasets: [
                    {
                      label: 'percentile in training (%)',
                      data: model.drivers.map((f) => (f.percentile === null ? 0 : Math.round(f.percentile * 1000) / 10)),
                      backgroundColor: '#0a58ca',
                    },
                    {
                      label: 'share of the score (%)',
                      data: model.drivers.map((f) => Math.round(f.share * 1000) / 10),
                      backgroundColor: '#8a4b00',
                    },
                  ],
                },
                options: { indexAxis: 'y', scales: { x: { min: 0, max: 100, title: { display: true, text: '%' } } } },
              }}
            />
            <table class="drivers">
              <thead>
                <tr>
                  <th scope="col">Feature</th>
                  <th scope="col">Value</th>
                  <th scope="col">Share of the score</th>
                  <th scope="col">Percentile in training</th>
                </tr>
              </thead>
              <tbody>
                {model.drivers.map((f) => (
                  <tr>
                    <td>{f.name}</td>
                    <td class="num">{f.value === null ? 'missing' : String(Number(f.value.toPrecision(6)))}</td>
                    <td>{pct(f.share)}</td>
                    <td>{pct(f.percentile)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <Account accountId={alert.account_id} current={alert.alert_id} alertTime={alert.event_time} />
      {canTriage && (
        <section aria-labelledby="triage-h">
          <h2 id="triage-h">Triage</h2>
          <div class="actions">
            <button type="button" disabled={busy || alert.status !== 'OPEN'} onClick={() => void act('/acknowledge')}>
              Acknowledge
            </button>
            <button
              type="button"
              disabled={busy || CLOSED.has(alert.status)}
              onClick={() => void act('/resolve', { label: 'fraud', ...(note && { note }) })}
            >
              Resolve as fraud
            </button>
            <button
              type="button"
              disabled={busy || CLOSED.has(alert.status)}
              onClick={() => void act('/resolve', { label: 'legitimate', ...(note && { note }) })}
            >
              Resolve as legitimate
            </button>
          </div>
          <label for="note">Note</label>
          <textarea id="note" maxLength={2000} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
          <button type="button" disabled={busy || note.trim() === ''} onClick={() => void act('/notes', { note })}>
            Add note
          </button>
        </section>
      )}
      <section aria-labelledby="hist-h">
        <h2 id="hist-h">History</h2>
        {alert.history.length === 0 ? (
          <p>No triage yet.</p>
        ) : (
          <ol class="history">
            {alert.history.map((h) => (
              <li>
                {new Date(h.at).toISOString()} · {h.actor} · {h.action}
                {h.detail && typeof h.detail === 'object' && 'note' in h.detail && (h.detail as { note?: unknown }).note
                  ? ` · “${String((h.detail as { note: unknown }).note)}”`
                  : ''}
              </li>
            ))}
          </ol>
        )}
      </section>
    </main>
  );
}
