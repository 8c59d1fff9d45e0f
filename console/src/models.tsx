// Models: every version with its state and evaluation, the active model's drift now (PSI of the
// score and per feature over its recent decisions), and, for admins, promote / shadow / rollback,
// each with a reason and an explicit confirmation. Other roles see no action at all.
import { useEffect, useState } from 'preact/hooks';
import { api, type Role } from './api.ts';
import { message, Notices, useConfirmed } from './common.tsx';
import { ChartView } from './chart.tsx';

interface DriftHistory {
  model_version: string;
  bucket: string;
  psi_alert: number;
  buckets: Array<{ start: string; decisions: number; score_psi: number; features: Array<{ feature: string; psi: number }> }>;
}

/** The active model's drift per hour of event time: the score's PSI and the three features that moved most, against the alert level. */
function DriftOverTime() {
  const [h, setH] = useState<DriftHistory | string | null>(null);
  useEffect(() => {
    api<DriftHistory>('GET', '/models/drift/history?bucket=hour').then(setH, (err: unknown) => setH(message(err)));
  }, []);
  if (h === null) return <p>Loading…</p>;
  if (typeof h === 'string') return <p>{h}</p>;
  if (h.buckets.length === 0) return <p>Too few recent decisions per hour to measure drift over time (100 an hour at least).</p>;
  const peak = new Map<string, number>();
  for (const b of h.buckets) for (const f of b.features) peak.set(f.feature, Math.max(peak.get(f.feature) ?? 0, f.psi));
  const top = [...peak.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([f]) => f);
  const colors = ['#8a4b00', '#0f6b2f', '#5a3e9b'];
  return (
    <ChartView
      label={`Drift of ${h.model_version} per hour of event time: score PSI ${h.buckets.map((b) => `${b.start.slice(0, 13)}h ${b.score_psi.toFixed(3)}`).join(', ')}; alert level ${h.psi_alert}`}
      config={{
        type: 'line',
        data: {
          labels: h.buckets.map((b) => `${b.start.slice(5, 10)} ${b.start.slice(11, 16)}`),
          datasets: [
            { label: 'score PSI', data: h.buckets.map((b) => b.score_psi), borderColor: '#0a58ca', borderWidth: 3 },
            ...top.map((f, i) => ({
              label: f,
              data: h.buckets.map((b) => b.features.find((x) => x.feature === f)?.psi ?? null),
              borderColor: colors[i % colors.length] as string,
            })),
            {
              label: 'alert level',
              data: h.buckets.map(() => h.psi_alert),
              borderColor: '#a4161a',
              borderDash: [6, 4],
              pointRadius: 0,
            },
          ],
        },
        options: { scales: { y: { type: 'linear', beginAtZero: true, title: { display: true, text: 'PSI' } } } },
      }}
    />
  );
}

interface Model {
  version: string;
  state: string;
  created_at: string;
  state_changed_at: string;
  training_rows: number;
  features: number;
  threshold: number;
  metrics: { rocAuc?: number; prAuc?: number; precision?: number; recall?: number } | null;
}
interface Drift {
  model_version: string;
  sample: number;
  score_psi: number;
  drift_alert: boolean;
  features: Array<{ feature: string; psi: number }>;
}
type Action = { kind: 'promote' | 'shadow'; version: string } | { kind: 'rollback' };
interface Card {
  version: string;
  training: { from: string; to: string; rows: number; labelled: number; fraud: number };
  features: string[];
  threshold: number;
  segments: Array<{ dimension: string; value: string; transactions: number; rateAfter: number; precisionAfter: number | null }>;
  sparseFeatures: Array<{ feature: string; missing: number }>;
  limits: string[];
}

/** A model's card: what it was trained on, how it behaves per segment, its known limits. */
function ModelCardView({ version }: { version: string }) {
  const [card, setCard] = useState<Card | string | null>(null);
  useEffect(() => {
    api<Card>('GET', `/models/${encodeURIComponent(version)}/card`).then(setCard, (err: unknown) => setCard(message(err)));
  }, [version]);
  if (card === null) return <p>Loading the card…</p>;
  if (typeof card === 'string') return <p>{card}</p>;
  const share = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)} %`);
  return (
    <section aria-labelledby="card-h" class="card">
      <h2 id="card-h">Model card of {card.version}</h2>
      <p>
        Trained on {card.training.rows.toLocaleString('en')} transactions from {card.training.from} to {card.training.to} (
        {card.training.labelled.toLocaleString('en')} labelled, {card.training.fraud.toLocaleString('en')} fraud);{' '}
        {card.features.length} features; threshold {card.threshold.toFixed(3)}.
      </p>
      <table class="segments">
        <caption>The model alone, per segment: alert rate and precision</caption>
        <thead>
          <tr>
            <th scope="col">Segment</th>
            <th scope="col">Transactions</th>
            <th scope="col">Alert rate</th>
            <th scope="col">Precision</th>
          </tr>
        </thead>
        <tbody>
          {card.segments.map((g) => (
            <tr>
              <td>
                {g.dimension} = {g.value}
              </td>
              <td class="num">{g.transactions.toLocaleString('en')}</td>
              <td class="num">{share(g.rateAfter)}</td>
              <td class="num">{share(g.precisionAfter)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {card.sparseFeatures.length > 0 && (
        <p>Often missing: {card.sparseFeatures.map((f) => `${f.feature} (${(f.missing * 100).toFixed(0)} %)`).join(', ')}.</p>
      )}
      <h3>Known limits</h3>
      <ul>
        {card.limits.map((l) => (
          <li>{l}</li>
        ))}
      </ul>
    </section>
  );
}

const fig = (x: number | undefined) => (typeof x === 'number' ? x.toFixed(3) : '–');

export function Models({ role }: { role: Role }) {
  const [models, setModels] = useState<Model[] | null>(null);
  const [drift, setDrift] = useState<Drift | string | null>(null);
  const [cardOf, setCardOf] = useState<string | null>(null);
  const admin = role === 'admin';

  const label = (a: Action) =>
    a.kind === 'rollback'
      ? 'Roll back to the previous active model'
      : `${a.kind === 'promote' ? 'Promote' : 'Shadow'} ${a.version}`;
  const { ask, panel, error, setError, done } = useConfirmed<Action>(
    label,
    async (a, why) => {
      if (a.kind === 'rollback') {
        const r = await api<{ from: string; to: string }>('POST', '/models/rollback', why);
        return `Rolled back from ${r.from} to ${r.to}.`;
      }
      if (a.kind === 'promote') {
        const r = await api<{ active: string; check?: { summary: string } | null }>(
          'POST',
          `/models/${encodeURIComponent(a.version)}/promote`,
          why,
        );
        return `${r.active} is active.${r.check ? ` Backtest: ${r.check.summary}` : ''}`;
      }
      await api('POST', `/models/${encodeURIComponent(a.version)}/shadow`, why);
      return `${a.version} now scores in shadow.`;
    },
    () => load(),
  );

  const load = async () => {
    try {
      setModels(await api<Model[]>('GET', '/models'));
    } catch (err) {
      setError(message(err));
    }
    try {
      setDrift(await api<Drift>('GET', '/models/drift'));
    } catch (err) {
      setDrift(message(err));
    }
  };
  useEffect(() => void load(), []);

  return (
    <main class="models">
      <h1>Models</h1>
      <Notices error={error} done={done} />
      {panel}
      <section aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        {models === null ? (
          <p>Loading…</p>
        ) : models.length === 0 ? (
          <p>No model yet: txmon model train.</p>
        ) : (
          <table class="model-list">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Trained on</th>
                <th scope="col">Threshold</th>
                <th scope="col">ROC AUC</th>
                <th scope="col">PR AUC</th>
                <th scope="col">Precision</th>
                <th scope="col">Recall</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <tr>
                  <td>{m.version}</td>
                  <td>{m.state}</td>
                  <td>{m.training_rows.toLocaleString('en')} rows</td>
                  <td>{m.threshold.toFixed(3)}</td>
                  <td>{fig(m.metrics?.rocAuc)}</td>
                  <td>{fig(m.metrics?.prAuc)}</td>
                  <td>{fig(m.metrics?.precision)}</td>
                  <td>{fig(m.metrics?.recall)}</td>
                  <td class="row-actions">
                    <button type="button" class="secondary" onClick={() => setCardOf(m.version)}>
                      Card
                    </button>
                    {admin && m.state !== 'active' && (
                      <button type="button" onClick={() => ask({ kind: 'promote', version: m.version })}>
                        Promote…
                      </button>
                    )}
                    {admin && m.state !== 'active' && m.state !== 'shadow' && (
                      <button type="button" class="secondary" onClick={() => ask({ kind: 'shadow', version: m.version })}>
                        Shadow…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {admin && models?.some((m) => m.state === 'active') && (
          <button type="button" class="secondary" onClick={() => ask({ kind: 'rollback' })}>
            Roll back…
          </button>
        )}
      </section>
      {cardOf && <ModelCardView version={cardOf} />}
      <section aria-labelledby="drift-time-h">
        <h2 id="drift-time-h">Drift over time</h2>
        <DriftOverTime />
      </section>
      <section aria-labelledby="drift-h">
        <h2 id="drift-h">Drift of the active model</h2>
        {drift === null ? (
          <p>Loading…</p>
        ) : typeof drift === 'string' ? (
          <p>{drift}</p>
        ) : (
          <>
            <p>
              {drift.model_version}: score PSI {drift.score_psi.toFixed(3)} over its last {drift.sample.toLocaleString('en')}{' '}
              decisions{drift.drift_alert ? ' — above the alert level' : ''}.
            </p>
            <table class="drift">
              <thead>
                <tr>
                  <th scope="col">Feature</th>
                  <th scope="col">PSI</th>
                </tr>
              </thead>
              <tbody>
                {drift.features.slice(0, 15).map((f) => (
                  <tr>
                    <td>{f.feature}</td>
                    <td>{f.psi.toFixed(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </main>
  );
}
