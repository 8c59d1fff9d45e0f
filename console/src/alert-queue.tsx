// The alert queue: newest first, filters, keyset pages ("Load more" and on scrolling to the end),
// new alerts arriving live from the server-sent event stream, keyboard triage (j/k to move, Enter to
// open, a to acknowledge).
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import { api, ApiError, query } from './api.ts';
import { useVirtualRows } from './virtual.ts';

export interface AlertItem {
  alert_id: string;
  transaction_id: string;
  account_id: string;
  decision: string;
  risk_score: number;
  status: string;
  summary: string;
  model_version: string | null;
  ruleset_version: string;
  event_time: string;
  created_at: string;
}

interface Filters {
  status: string;
  decision: string;
  severity: string;
  rule_id: string;
  model_version: string;
  account_id: string;
  from: string;
  to: string;
}

const EMPTY: Filters = {
  status: '',
  decision: '',
  severity: '',
  rule_id: '',
  model_version: '',
  account_id: '',
  from: '',
  to: '',
};
const ROW = 44;

/** Whether a live alert belongs in the list as filtered (what the stream's item says about it). */
function matches(a: AlertItem, f: Filters): boolean {
  if (f.status && a.status !== f.status) return false;
  if (f.decision && a.decision !== f.decision) return false;
  if (f.account_id && a.account_id !== f.account_id) return false;
  if (f.model_version && a.model_version !== f.model_version) return false;
  // Severity and rule are not in the list item: a live alert shows only when neither is filtered on.
  if (f.severity || f.rule_id) return false;
  if (f.from && a.event_time < new Date(f.from).toISOString()) return false;
  if (f.to && a.event_time >= new Date(f.to).toISOString()) return false;
  return true;
}

// One formatter for every row: toLocaleString would build a new one per call, per row, per frame.
const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
const time = (iso: string) => TIME.format(new Date(iso));

export function AlertQueue() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // Bumped by Apply: the same filters applied again read the first page again.
  const [round, setRound] = useState(0);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [items, setItems] = useState<AlertItem[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [live, setLive] = useState<'connecting' | 'live' | 'off'>('connecting');
  const [selected, setSelected] = useState(0);
  const [, navigate] = useLocation();
  const seen = useRef(new Set<string>());

  const params = (f: Filters, cursor?: string) =>
    query({
      ...f,
      from: f.from ? new Date(f.from).toISOString() : undefined,
      to: f.to ? new Date(f.to).toISOString() : undefined,
      cursor,
      limit: 100,
    });

  const loadPage = async (f: Filters, cursor?: string) => {
    setLoading(true);
    setError('');
    try {
      const page = await api<{ items: AlertItem[]; next: string | null }>('GET', `/alerts${params(f, cursor)}`);
      const fresh = page.items.filter((a) => !seen.current.has(a.alert_id));
      for (const a of fresh) seen.current.add(a.alert_id);
      setItems((old) => (cursor ? [...old, ...fresh] : fresh));
      setNext(page.next);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'the API could not be reached');
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    seen.current = new Set();
    setSelected(0);
    void loadPage(filters);
  }, [filters, round]);

  // New alerts as they are raised; EventSource reconnects by itself and resumes after Last-Event-ID.
  useEffect(() => {
    const es = new EventSource('/api/v1/alerts/stream');
    es.onopen = () => setLive('live');
    es.onerror = () => setLive(es.readyState === EventSource.CLOSED ? 'off' : 'connecting');
    es.addEventListener('alert', (e) => {
      const a = JSON.parse((e as MessageEvent<string>).data) as AlertItem;
      if (seen.current.has(a.alert_id) || !matches(a, filters)) return;
      seen.current.add(a.alert_id);
      setItems((old) => [a, ...old]);
      setSelected((s) => (s > 0 ? s + 1 : s));
    });
    return () => es.close();
  }, [filters]);

  const acknowledge = async (a: AlertItem) => {
    try {
      const r = await api<{ status: string }>('POST', `/alerts/${a.alert_id}/acknowledge`);
      setItems((old) => old.map((x) => (x.alert_id === a.alert_id ? { ...x, status: r.status } : x)));
    } catch (err) {
      setError(err instanceof ApiError ? `${a.alert_id}: ${err.message}` : 'the API could not be reached');
      if (err instanceof ApiError && err.status === 409) void loadPage(filters);
    }
  };

  const field = (name: keyof Filters, label: string, input: preact.JSX.Element) => (
    <label class="filter">
      <span>{label}</span>
      {input}
    </label>
  );
  const set = (name: keyof Filters) => (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
  const select = (name: keyof Filters, options: string[]) => (
    <select value={draft[name]} onChange={set(name)} name={name}>
      <option value="">any</option>
      {options.map((o) => (
        <option value={o}>{o}</option>
      ))}
    </select>
  );

  return (
    <main class="queue">
      <h1>Alerts</h1>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
          setRound((n) => n + 1);
        }}
      >
        {field('status', 'Status', select('status', ['OPEN', 'IN_REVIEW', 'CONFIRMED_FRAUD', 'FALSE_POSITIVE', 'CLOSED']))}
        {field('decision', 'Decision', select('decision', ['REVIEW', 'BLOCK']))}
        {field('severity', 'Severity', select('severity', ['low', 'medium', 'high', 'critical']))}
        {field('rule_id', 'Rule', <input name="rule_id" value={draft.rule_id} onInput={set('rule_id')} />)}
        {field(
          'model_version',
          'Model',
          <input name="model_version" value={draft.model_version} onInput={set('model_version')} />,
        )}
        {field('account_id', 'Account', <input name="account_id" value={draft.account_id} onInput={set('account_id')} />)}
        {field('from', 'From', <input name="from" type="datetime-local" value={draft.from} onInput={set('from')} />)}
        {field('to', 'To', <input name="to" type="datetime-local" value={draft.to} onInput={set('to')} />)}
        <button type="submit">Apply</button>
        <button
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      <p class="status-line" aria-live="polite">
        <span class={`live ${live}`}>
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Live updates off'}
        </span>
        {' · '}
        {items.length} alert{items.length === 1 ? '' : 's'} shown{next ? ' (more on scroll)' : ''}
        {' · '}
        <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> open, <kbd>a</kbd> acknowledge
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="list-head" aria-hidden="true">
        <span>Time</span>
        <span>Decision</span>
        <span>Risk</span>
        <span>Status</span>
        <span>Account</span>
        <span>Summary</span>
      </div>
      <AlertRows
        items={items}
        selected={selected}
        select={setSelected}
        open={(a) => navigate(`/alerts/${a.alert_id}`)}
        acknowledge={(a) => void acknowledge(a)}
        more={next !== null && !loading}
        nearEnd={() => {
          if (next && !loading) void loadPage(filters, next);
        }}
      />
      {next && (
        <button type="button" disabled={loading} onClick={() => void loadPage(filters, next)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
      {!loading && items.length === 0 && !error && <p>No alerts match.</p>}
    </main>
  );
}

interface RowsProps {
  items: AlertItem[];
  selected: number;
  select: (f: (s: number) => number) => void;
  open: (a: AlertItem) => void;
  acknowledge: (a: AlertItem) => void;
  /** Whether a next page can be asked for now (there is one, and none is loading). */
  more: boolean;
  /** Called when the rows in view reach the last 20 loaded and `more`: time for the next page. */
  nearEnd: () => void;
}

/**
 * The virtualised rows: only those in view are in the DOM, and scrolling re-renders only this
 * component (not the filters above it). A listbox: j/k (or the arrows) move, Enter opens, a
 * acknowledges; a click opens.
 */
function AlertRows({ items, selected, select, open, acknowledge, more, nearEnd }: RowsProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualRows(items.length, () => scroller.current, ROW);
  const rows = v.getVirtualItems();
  const last = rows[rows.length - 1];
  // Also when a page finishes loading with the end still in view (`more` turns true again).
  useEffect(() => {
    if (more && last && last.index >= items.length - 20) nearEnd();
  }, [last?.index, items.length, more]);

  const move = (by: number) =>
    select((s) => {
      const n = Math.max(0, Math.min(items.length - 1, s + by));
      v.scrollToIndex(n);
      return n;
    });
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'j' || e.key === 'ArrowDown') {
      e.preventDefault();
      move(1);
    } else if (e.key === 'k' || e.key === 'ArrowUp') {
      e.preventDefault();
      move(-1);
    } else if (e.key === 'Enter') {
      const a = items[selected];
      if (a) open(a);
    } else if (e.key === 'a') {
      const a = items[selected];
      if (a && a.status === 'OPEN') acknowledge(a);
    }
  };

  return (
    <div
      ref={scroller}
      class="list"
      tabIndex={0}
      role="listbox"
      aria-label="Alerts, newest first"
      aria-activedescendant={items[selected] ? `alert-${items[selected]?.alert_id}` : undefined}
      onKeyDown={onKey}
    >
      <div style={{ height: `${v.getTotalSize()}px`, position: 'relative' }}>
        {rows.map((r) => {
          const a = items[r.index] as AlertItem;
          return (
            <div
              key={a.alert_id}
              id={`alert-${a.alert_id}`}
              role="option"
              aria-selected={r.index === selected}
              aria-posinset={r.index + 1}
              aria-setsize={more ? -1 : items.length}
              class={`row ${r.index === selected ? 'selected' : ''}`}
              style={{ transform: `translateY(${r.start}px)`, height: `${ROW}px` }}
              onClick={() => {
                select(() => r.index);
                open(a);
              }}
            >
              <span>{time(a.event_time)}</span>
              <span class={`decision ${a.decision.toLowerCase()}`}>{a.decision}</span>
              <span>{a.risk_score.toFixed(2)}</span>
              <span>{a.status}</span>
              <span>{a.account_id}</span>
              <span class="summary">{a.summary}</span>
            </div>
          );
        })}
      </div>
    </div>
  );
}
