// The console's one way to the dashboard API: same-origin fetches with the session cookie, the
// session's CSRF token on every write, problem details turned into errors whose message is the
// server's `detail` (shown to the user as text, never as HTML).

export type Role = 'analyst' | 'sre' | 'admin';

export interface Session {
  name: string;
  key_id: string;
  role: Role;
  expires_at: string;
  csrf_token: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let onSignedOut: (why: string) => void = () => {};

/** Remembers the session's CSRF token (from the sign-in or GET /session). */
export function useSession(s: Session | null): void {
  csrf = s?.csrf_token ?? '';
}

/** What to do when the API says the session has ended (401): back to the sign-in page. */
export function whenSignedOut(f: (why: string) => void): void {
  onSignedOut = f;
}

async function problem(res: Response): Promise<ApiError> {
  let detail = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { detail?: string };
    if (typeof body.detail === 'string') detail = body.detail;
  } catch {
    // not a problem document: the status line says it
  }
  return new ApiError(res.status, detail);
}

/** The readiness of each dependency (`GET /readyz/detail`, outside /api/v1): its body comes with a 503 too. */
export async function readiness(): Promise<{
  status: string;
  checks: Array<{ name: string; ok: boolean; detail: string; last_ok_seconds_ago: number | null }>;
}> {
  const res = await fetch('/readyz/detail', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (res.status !== 200 && res.status !== 503) {
    const err = await problem(res);
    if (res.status === 401) onSignedOut(err.message);
    throw err;
  }
  return res.json() as Promise<{
    status: string;
    checks: Array<{ name: string; ok: boolean; detail: string; last_ok_seconds_ago: number | null }>;
  }>;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: { signIn?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!res.ok) {
    const err = await problem(res);
    if (res.status === 401 && !opts.signIn) onSignedOut(err.message);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the set fields of `q`. */
export function query(q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
