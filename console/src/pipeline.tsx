// The pipeline as an SRE watches it: lag per consumer group and partition, committed records per
// second, dead letters per topic, stored, late and duplicate counts; read again every 5 s.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api.ts';

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
  const [error, setError] = useState('');
  const [at, setAt] = useState<Date | null>(null);
  useEffect(() => {
    let stop = false;
    const read = async () => {
      try {
        const v = await api<PipelineView>('GET', '/pipeline');
        if (stop) return;
        setView(v);
        setAt(new Date());
        setError('');
      } catch (err) {
        if (!stop) setError(err instanceof ApiError ? err.message : 'the API could not be reached');
      }
    };
    void read();
    const t = setInterval(() => void read(), 5_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
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
