// Reconciliation for finance ops: the summary per status and currency for a business date, the
// exceptions with filters and keyset pages, resolve (fixed) or accept (written off) with a note and
// the revision looked at (a 409 says the group changed meanwhile and reads it again), and a CSV
// export of every exception the filters select. Amounts are exact (minor units, never floats).
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query, type Role } from './api.ts';
import { ChartView } from './chart.tsx';
import { EXCEPTION_STATUSES } from '../../reconciliation/match.ts';
import { message, Notices } from './common.tsx';
import { exceptionsCsv } from './csv.ts';
import { majorUnits, money } from './money.ts';

interface SummaryLine {
  status: string;
  currency: string;
  groups: number;
  expected_minor: string;
  settled_minor: string;
}
export interface Exception {
  reference: string;
  status: string;
  reason: string;
  currency: string;
  expected_minor: string | null;
  settled_minor: string;
  transactions: number;
  settlement_lines: number;
  revision: number;
  business_date: string;
  deadline: string;
  resolution: string | null;
  resolved_by: string | null;
}
interface Page {
  items: Exception[];
  next: string | null;
}

/** Exceptions shown per page, and asked for per request by the export. */
const EXPORT_PAGE = 500;

export function Reconciliation({ role }: { role: Role }) {
  const canWrite = role === 'analyst' || role === 'admin';
  const [date, setDate] = useState('');
  const [status, setStatus] = useState('');
  const [open, setOpen] = useState('true');
  const [summary, setSummary] = useState<SummaryLine[] | null>(null);
  const [items, setItems] = useState<Exception[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [exporting, setExporting] = useState('');

  const filters = (cursor?: string, limit = 25) =>
    query({ date: date || undefined, status: status || undefined, open: open || undefined, cursor, limit });

  const load = async (cursor?: string) => {
    setError('');
    try {
      if (!cursor)
        setSummary(
          (await api<{ lines: SummaryLine[] }>('GET', `/reconciliation/summary${query({ date: date || undefined })}`)).lines,
        );
      const page = await api<Page>('GET', `/reconciliation/exceptions${filters(cursor)}`);
      setItems((old) => (cursor ? [...old, ...page.items] : page.items));
      setNext(page.next);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => void load(), []);

  const act = async (e: Exception, action: 'resolve' | 'accept') => {
    setBusy(true);
    setError('');
    setDone('');
    const note = notes[e.reference]?.trim();
    try {
      const r = await api<{ status: string; resolution: string }>(
        'POST',
        `/reconciliation/exceptions/${encodeURIComponent(e.reference)}/${action}`,
        {
          revision: e.revision,
          ...(note && { note }),
        },
      );
      setDone(`${e.reference}: ${r.resolution} (${r.status}).`);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 409
          ? `${e.reference}: not done, the group changed meanwhile (${err.message}). The list has been read again.`
          : `${e.reference}: ${message(err)}`,
      );
    } finally {
      setBusy(false);
      await load();
    }
  };

  const exportCsv = async () => {
    const rows: Exception[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await api<Page>('GET', `/reconciliation/exceptions${filters(cursor, EXPORT_PAGE)}`);
        rows.push(...page.items);
        cursor = page.next ?? undefined;
        setExporting(`Exporting… ${rows.length.toLocaleString('en')} exceptions`);
      } while (cursor);
      const url = URL.createObjectURL(new Blob([exceptionsCsv(rows)], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `txmon-exceptions${date ? `-${date}` : ''}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExporting(`Exported ${rows.length.toLocaleString('en')} exceptions.`);
    } catch (err) {
      setExporting('');
      setError(message(err));
    }
  };

  return (
    <main class="recon">
      <h1>Reconciliation</h1>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label class="filter">
          <span>Business date</span>
          <input type="date" name="date" value={date} onInput={(e) => setDate((e.target as HTMLInputElement).value)} />
        </label>
        <label class="filter">
          <span>Status</span>
          <select name="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {[...EXCEPTION_STATUSES].map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label class="filter">
          <span>Open</span>
          <select name="open" value={open} onChange={(e) => setOpen((e.target as HTMLSelectElement).value)}>
            <option value="true">open only</option>
            <option value="false">closed only</option>
            <option value="">both</option>
          </select>
        </label>
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={() => void exportCsv()}>
          Export CSV
        </button>
      </form>
      {exporting && <p role="status">{exporting}</p>}
      <Notices error={error} done={done} />
      <section aria-labelledby="summary-h">
        <h2 id="summary-h">Summary{date ? ` for ${date}` : ', every business date'}</h2>
        {summary === null ? (
          <p>Loading…</p>
        ) : (
          <>
            <SummaryChart lines={summary} />
            <table class="summary">
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Currency</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Expected</th>
                  <th scope="col">Settled</th>
                </tr>
              </thead>
              <tbody>
                {summary.map((l) => (
                  <tr>
                    <td>{l.status}</td>
                    <td>{l.currency}</td>
                    <td>{l.groups.toLocaleString('en')}</td>
                    <td class="num">{majorUnits(l.expected_minor, l.currency)}</td>
                    <td class="num">{majorUnits(l.settled_minor, l.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <section aria-labelledby="exceptions-h">
        <h2 id="exceptions-h">Exceptions</h2>
        {items.length === 0 ? (
          <p>No exception matches.</p>
        ) : (
          <ul class="exceptions">
            {items.map((e) => (
              <li class="exception">
                <p>
                  <strong>{e.reference}</strong> · {e.status} · {e.business_date} · expected{' '}
                  {e.expected_minor === null ? '–' : money(e.expected_minor, e.currency)}, settled{' '}
                  {money(e.settled_minor, e.currency)}
                </p>
                <p class="reason">{e.reason}</p>
                {e.resolution ? (
                  <p>
                    {e.resolution} by {e.resolved_by ?? 'unknown'}
                  </p>
                ) : (
                  canWrite && (
                    <div class="actions">
                      <label class="sr-only" for={`note-${e.reference}`}>
                        Note for {e.reference}
                      </label>
                      <input
                        id={`note-${e.reference}`}
                        placeholder="note"
                        maxLength={1000}
                        value={notes[e.reference] ?? ''}
                        onInput={(ev) => setNotes({ ...notes, [e.reference]: (ev.target as HTMLInputElement).value })}
                      />
                      <button type="button" disabled={busy} onClick={() => void act(e, 'resolve')}>
                        Resolve
                      </button>
                      <button type="button" class="secondary" disabled={busy} onClick={() => void act(e, 'accept')}>
                        Accept
                      </button>
                    </div>
                  )
                )}
              </li>
            ))}
          </ul>
        )}
        {next && (
          <button type="button" onClick={() => void load(next)}>
            Load more
          </button>
        )}
      </section>
    </main>
  );
}

const PALETTE = ['#0a58ca', '#8a4b00', '#0f6b2f', '#a4161a', '#5a3e9b', '#00707a', '#6b6b00', '#8c2d6b'];

/** Groups per status, one bar segment per currency. */
function SummaryChart({ lines }: { lines: SummaryLine[] }) {
  const statuses = [...new Set(lines.map((l) => l.status))];
  const currencies = [...new Set(lines.map((l) => l.currency))].sort();
  const count = (status: string, currency: string) =>
    lines.find((l) => l.status === status && l.currency === currency)?.groups ?? 0;
  return (
    <ChartView
      label={`Reconciliation groups per status: ${statuses
        .map((s) => `${s} ${currencies.reduce((n, c) => n + count(s, c), 0)}`)
        .join(', ')}`}
      config={{
        type: 'bar',
        data: {
          labels: statuses,
          datasets: currencies.map((c, i) => ({
            label: c,
            data: statuses.map((s) => count(s, c)),
            backgroundColor: PALETTE[i % PALETTE.length] as string,
          })),
        },
        options: {
          scales: { x: { stacked: true }, y: { stacked: true, type: 'linear', title: { display: true, text: 'groups' } } },
        },
      }}
    />
  );
}
