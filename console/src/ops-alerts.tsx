// ops-watch's alerts on the pipeline page (issue 21): the open incidents with the series that moved
// first and each series' evidence, and each forecast SLO breach drawn from now to its expected time;
// the recently closed ones below. Read every 15 s (ops-watch scrapes every TXMON_OPS_SCRAPE_MS).
import { useState } from 'preact/hooks';
import { api } from './api.ts';
import { usePolling } from './common.tsx';
import { ChartView } from './chart.tsx';

interface OpsAlertView {
  alert_id: string;
  revision: number;
  kind: 'ANOMALY' | 'SLO_FORECAST';
  status: 'OPEN' | 'CLOSED';
  opened_at: string;
  updated_at: string;
  closed_at: string | null;
  first_mover: string;
  summary: string;
  evidence: Array<{ series: string; started_at: string; value: number; baseline: number; score: number }>;
  forecast: {
    series: string;
    limit: number;
    value: number;
    expected_at: string;
    earliest_at: string;
    latest_at: string | null;
  } | null;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString();
const num = (x: number) => (Math.abs(x) >= 1e6 ? x.toExponential(2) : x.toLocaleString('en', { maximumFractionDigits: 3 }));

export function OpsAlerts() {
  const [items, setItems] = useState<OpsAlertView[] | null>(null);
  const error = usePolling(
    () => api<{ items: OpsAlertView[] }>('GET', '/ops/alerts?limit=50'),
    (r) => setItems(r.items),
    15_000,
  );
  const open = (items ?? []).filter((a) => a.status === 'OPEN');
  const closed = (items ?? []).filter((a) => a.status === 'CLOSED').slice(0, 10);
  return (
    <section aria-labelledby="ops-h">
      <h2 id="ops-h">Ops alerts (ops-watch)</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items !== null && open.length === 0 && (
        <p>No open ops alert: every watched series is within its baseline, and no SLO breach is forecast.</p>
      )}
      {open.map((a) => (a.kind === 'ANOMALY' ? <Incident a={a} /> : <Forecast a={a} />))}
      {closed.length > 0 && (
        <details>
          <summary>Recently closed ({closed.length})</summary>
          <ul>
            {closed.map((a) => (
              <li>
                {a.kind === 'ANOMALY' ? 'Incident' : 'Forecast'} {time(a.opened_at)}–{a.closed_at ? time(a.closed_at) : ''}:{' '}
                {a.summary}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

function Incident({ a }: { a: OpsAlertView }) {
  return (
    <article class="ops-alert" aria-label={`Ops incident ${a.alert_id}`}>
      <h3>
        Incident since {time(a.opened_at)}: {a.first_mover} moved first
      </h3>
      <p>{a.summary}</p>
      <table class="ops-evidence">
        <caption>Series of the incident, the first to move first</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col">Unusual since</th>
            <th scope="col">Value</th>
            <th scope="col">Baseline</th>
            <th scope="col">Score</th>
          </tr>
        </thead>
        <tbody>
          {a.evidence.map((e) => (
            <tr>
              <td>{e.series}</td>
              <td>{time(e.started_at)}</td>
              <td class="num">{num(e.value)}</td>
              <td class="num">{num(e.baseline)}</td>
              <td class="num">{num(e.score)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}

function Forecast({ a }: { a: OpsAlertView }) {
  const f = a.forecast;
  if (f === null) return null;
  const from = Date.parse(a.updated_at);
  const minutes = (iso: string) => Math.max(0, (Date.parse(iso) - from) / 60_000);
  const expected = minutes(f.expected_at);
  const earliest = minutes(f.earliest_at);
  const latest = f.latest_at === null ? null : minutes(f.latest_at);
  const end = Math.ceil(Math.max(expected, latest ?? expected) * 1.2) || 1;
  // The forecast's mean is a straight line from the value now to the limit at the expected time.
  const steps = Array.from({ length: 13 }, (_, i) => (end * i) / 12);
  const mean = steps.map((m) => f.value + ((f.limit - f.value) * m) / (expected || 1));
  return (
    <article class="ops-alert" aria-label={`SLO breach forecast ${a.alert_id}`}>
      <h3>SLO breach forecast: {f.series}</h3>
      <p>
        {a.summary}: expected at {time(f.expected_at)}, not before {time(f.earliest_at)}
        {f.latest_at ? `, by ${time(f.latest_at)} at the latest` : ' (the latest is beyond the horizon)'} (95 % interval).
      </p>
      <ChartView
        label={`Forecast of ${f.series}: ${num(f.value)} now, reaching the limit ${num(f.limit)} in about ${expected.toFixed(1)} minutes (between ${earliest.toFixed(1)} and ${latest === null ? 'beyond the horizon' : `${latest.toFixed(1)} minutes`})`}
        height={200}
        config={{
          type: 'line',
          data: {
            labels: steps.map((m) => `+${m.toFixed(1)} min`),
            datasets: [
              { label: 'forecast', data: mean, borderColor: '#0a58ca', pointRadius: 0 },
              { label: 'SLO limit', data: steps.map(() => f.limit), borderColor: '#a4161a', borderDash: [6, 4], pointRadius: 0 },
            ],
          },
          options: { scales: { y: { type: 'linear' } } },
        }}
      />
    </article>
  );
}
