// The pipeline as an SRE watches it: lag per consumer group and partition, committed records per
// second, dead letters per topic, stored, late and duplicate counts, read again every 5 s; and
// ops-watch's open incidents and breach forecasts (ops-alerts.tsx).
import { useState } from 'preact/hooks';
import { api, readiness } from './api.ts';
import { usePolling } from './common.tsx';
import { ChartView } from './chart.tsx';
import { OpsAlerts } from './ops-alerts.tsx';

/** How many readings the live charts keep (5 s apart: the last 10 minutes). */
const KEEP = 120;

interface PipelineView {
  groups: Array<{
    group: string;
    topic: string;
    lag: number;
    records_per_second: number | null;
    partitions: Array<{ partition: number; committed: number; end: number; lag: number }>;
  }>;
  dead_letters: Array<{ topic: string; records: number }>;
  transactions: { stored: number | null; late: number | null; duplicates: number | null };
  age_seconds: { kafka: number; counts: number | null };
}

const n = (x: number | null) => (x === null ? '–' : x.toLocaleString('en'));

export function Pipeline() {
  const [view, setView] = useState<PipelineView | null>(null);
  const [at, setAt] = useState<Date | null>(null);
  const [ready, setReady] = useState<Awaited<ReturnType<typeof readiness>> | null>(null);
  const [history, setHistory] = useState<Array<{ at: Date; lag: Record<string, number>; rate: Record<string, number | null> }>>(
    [],
  );
  const error = usePolling(
    () => Promise.all([api<PipelineView>('GET', '/pipeline'), readiness()]),
    ([v, r]) => {
      setReady(r);
      setView(v);
      const now = new Date();
      setAt(now);
      setHistory((h) => [
        ...h.slice(-(KEEP - 1)),
        {
          at: now,
          lag: Object.fromEntries(v.groups.map((g) => [g.group, g.lag])),
          rate: Object.fromEntries(v.groups.map((g) => [g.group, g.records_per_second])),
        },
      ]);
    },
    5_000,
  );
  return (
    <main class="pipeline">
      <h1>Pipeline</h1>
      <p class="status-line" aria-live="polite">
        {at ? `Read at ${at.toLocaleTimeString()} (every 5 s)` : 'Reading…'}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {view && (
        <>
          <section aria-labelledby="tx-h">
            <h2 id="tx-h">Transactions</h2>
            <dl class="facts">
              <dt>Stored</dt>
              <dd>{n(view.transactions.stored)}</dd>
              <dt>Late</dt>
              <dd>{n(view.transactions.late)}</dd>
              <dt>Duplicates</dt>
              <dd>{n(view.transactions.duplicates)}</dd>
            </dl>
          </section>
          <OpsAlerts />
          {ready && (
            <section aria-labelledby="ready-h">
              <h2 id="ready-h">Readiness: {ready.status}</h2>
              <table class="readiness">
                <thead>
                  <tr>
                    <th scope="col">Dependency</th>
                    <th scope="col">State</th>
                    <th scope="col">Detail</th>
                    <th scope="col">Last ok</th>
                  </tr>
                </thead>
                <tbody>
                  {ready.checks.map((c) => (
                    <tr>
                      <td>{c.name}</td>
                      <td class={c.ok ? 'ok' : 'error'}>{c.ok ? 'ok' : 'failing'}</td>
                      <td>{c.detail}</td>
                      <td>{c.last_ok_seconds_ago === null ? 'not since start' : `${c.last_ok_seconds_ago.toFixed(0)} s ago`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          <section aria-labelledby="live-h">
            <h2 id="live-h">Lag and throughput, live</h2>
            <ChartView
              label={`Lag per consumer group over the last ${history.length} readings: ${view.groups.map((g) => `${g.group} ${g.lag}`).join(', ')} now`}
              height={220}
              config={{
                type: 'line',
                data: {
                  labels: history.map((h) => h.at.toLocaleTimeString()),
                  datasets: view.groups.flatMap((g, i) => [
                    {
                      label: `${g.group} lag`,
                      data: history.map((h) => h.lag[g.group] ?? null),
                      borderColor: ['#0a58ca', '#8a4b00'][i % 2],
                      yAxisID: 'y',
                    },
                    {
                      label: `${g.group} records/s`,
                      data: history.map((h) => h.rate[g.group] ?? null),
                      borderColor: ['#0f6b2f', '#a4161a'][i % 2],
                      borderDash: [4, 3],
                      yAxisID: 'rate',
                    },
                  ]),
                },
                options: {
                  scales: {
                    y: { type: 'linear', beginAtZero: true, title: { display: true, text: 'records behind' } },
                    rate: {
                      type: 'linear',
                      position: 'right',
                      beginAtZero: true,
                      title: { display: true, text: 'records/s' },
                      grid: { drawOnChartArea: false },
                    },
                  },
                },
              }}
            />
          </section>
          <section aria-labelledby="groups-h">
            <h2 id="groups-h">Consumer groups</h2>
            {view.groups.map((g) => (
              <table class="groups">
                <caption>
                  {g.group} on {g.topic}: lag {n(g.lag)}, {g.records_per_second === null ? '–' : g.records_per_second.toFixed(1)}{' '}
                  records/s
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Partition</th>
                    <th scope="col">Committed</th>
                    <th scope="col">End</th>
                    <th scope="col">Lag</th>
                  </tr>
                </thead>
                <tbody>
                  {g.partitions.map((p) => (
                    <tr>
                      <td>{p.partition}</td>
                      <td>{n(p.committed)}</td>
                      <td>{n(p.end)}</td>
                      <td>{n(p.lag)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
          </section>
          <section aria-labelledby="dlq-h">
            <h2 id="dlq-h">Dead letters</h2>
            <table class="dlq">
              <thead>
                <tr>
                  <th scope="col">Topic</th>
                  <th scope="col">Records</th>
                </tr>
              </thead>
              <tbody>
                {view.dead_letters.map((d) => (
                  <tr>
                    <td>{d.topic}</td>
                    <td>{n(d.records)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </main>
  );
}
