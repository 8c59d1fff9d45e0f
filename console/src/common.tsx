// Pieces every page shares: an error's text for the user, the error and done lines, and the
// confirmation an admin action asks for (a reason, Confirm / Cancel, the focus on it when it opens)
// with the flow around it (useConfirmed); a read repeated while the page is open (usePolling).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

/** What to tell the user about a failed call: the API's own detail, else that it could not be reached. */
export const message = (err: unknown): string => (err instanceof ApiError ? err.message : 'the API could not be reached');

/**
 * Calls `read` at mount and then every `ms` until unmount, hands each result to `onValue`, and
 * returns the last read's error text ('' once a read succeeds). A result that arrives after unmount
 * is dropped. `read` and `onValue` are the ones of the first render.
 */
export function usePolling<T>(read: () => Promise<T>, onValue: (value: T) => void, ms: number): string {
  const [error, setError] = useState('');
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const value = await read();
        if (stop) return;
        onValue(value);
        setError('');
      } catch (err) {
        if (!stop) setError(message(err));
      }
    };
    void tick();
    const t = setInterval(() => void tick(), ms);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [ms]);
  return error;
}

/** The page's error (an alert for assistive technology) and what was just done (a status). */
export function Notices({ error, done }: { error: string; done?: string }) {
  return (
    <>
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
    </>
  );
}

export interface ConfirmProps {
  /** What is about to happen, e.g. "Promote if-…" (shown with a question mark). */
  title: string;
  reason: string;
  setReason: (r: string) => void;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** An admin action's confirmation: audited under the user's name, with an optional reason. */
export function ConfirmPanel({ title, reason, setReason, busy, onConfirm, onCancel }: ConfirmProps) {
  const field = useRef<HTMLInputElement>(null);
  // The confirmation takes the focus when it opens (keyboard and screen-reader users land on it).
  useEffect(() => field.current?.focus(), [title]);
  return (
    <section class="confirm" aria-labelledby="confirm-h">
      <h2 id="confirm-h">{title}?</h2>
      <p>Running processors take the change within seconds; it is audited under your name.</p>
      <label for="reason">Reason</label>
      <input
        ref={field}
        id="reason"
        maxLength={500}
        value={reason}
        onInput={(e) => setReason((e.target as HTMLInputElement).value)}
      />
      <div class="actions">
        <button type="button" disabled={busy} onClick={onConfirm}>
          Confirm
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}

/**
 * An admin action asked for, confirmed with a reason, then run: `ask(action)` opens the panel;
 * Confirm runs `run(action, why)` (its answer is the done line), closes the panel and reloads the
 * page's data whatever happened; a failure is the error line. The page renders `panel` and
 * `<Notices error={error} done={done} />`; `setError` is the page's for its other calls.
 */
export function useConfirmed<A>(
  describe: (a: A) => string,
  run: (a: A, why: { reason?: string }) => Promise<string>,
  reload: () => Promise<void>,
) {
  const [pending, setPending] = useState<A | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const confirm = async (a: A) => {
    setBusy(true);
    setError('');
    setDone('');
    try {
      setDone(await run(a, reason.trim() ? { reason: reason.trim() } : {}));
      setPending(null);
      setReason('');
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
      await reload();
    }
  };
  const panel = pending && (
    <ConfirmPanel
      title={describe(pending)}
      reason={reason}
      setReason={setReason}
      busy={busy}
      onConfirm={() => void confirm(pending)}
      onCancel={() => setPending(null)}
    />
  );
  return { ask: setPending, panel, error, setError, done };
}
