// Pieces every page shares: an error's text for the user, the error and done lines, and the
// confirmation an admin action asks for (a reason, Confirm / Cancel, the focus on it when it opens).
import { useEffect, useRef } from 'preact/hooks';
import { ApiError } from './api.ts';

/** What to tell the user about a failed call: the API's own detail, else that it could not be reached. */
export const message = (err: unknown): string => (err instanceof ApiError ? err.message : 'the API could not be reached');

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
