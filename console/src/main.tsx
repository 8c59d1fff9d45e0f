// The txmon console (issue 20): sign-in, the alert queue and an alert's detail. Preact for the views,
// wouter-preact for the (hash) routes; everything the API returns is rendered as text (JSX escapes
// it), never as HTML. What a role may not do it does not see; the API refuses it anyway.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Link, Route, Router, Switch } from 'wouter-preact';
import { useHashLocation } from 'wouter-preact/use-hash-location';
import { api, ApiError, useSession, whenSignedOut, type Session } from './api.ts';
import { AlertDetail } from './alert-detail.tsx';
import { AlertQueue } from './alert-queue.tsx';
import { Detection } from './detection.tsx';
import { Models } from './models.tsx';
import { Reconciliation } from './reconciliation.tsx';
import { Pipeline } from './pipeline.tsx';

function SignIn({ message, onSignedIn }: { message: string; onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onSignedIn(await api<Session>('POST', '/session', { key }, { signIn: true }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'the API could not be reached');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>txmon console</h1>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label for="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p class="hint">
        Keys come from <code>txmon apikey create</code>. The key is exchanged for a session cookie and not kept in the page.
      </p>
    </main>
  );
}

const CAN = {
  alerts: (r: Session['role']) => r === 'analyst' || r === 'admin',
  pipeline: (r: Session['role']) => r === 'sre' || r === 'admin',
};

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const role = session.role;
  return (
    <Router hook={useHashLocation}>
      <header class="top">
        <span class="brand">txmon</span>
        <nav aria-label="Pages">
          {CAN.alerts(role) && <Link href="/alerts">Alerts</Link>}
          {CAN.pipeline(role) && <Link href="/pipeline">Pipeline</Link>}
          <Link href="/reconciliation">Reconciliation</Link>
          <Link href="/models">Models</Link>
          <Link href="/detection">Detection changes</Link>
        </nav>
        <span class="who">
          {session.name} <span class="role">({role})</span>
        </span>
        <button type="button" class="signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Switch>
        {CAN.alerts(role) && (
          <Route path="/alerts/:id">{(p: { id: string }) => <AlertDetail key={p.id} id={p.id} role={role} />}</Route>
        )}
        {CAN.alerts(role) && <Route path="/alerts" component={AlertQueue} />}
        {CAN.pipeline(role) && <Route path="/pipeline" component={Pipeline} />}
        <Route path="/models">
          <Models role={role} />
        </Route>
        <Route path="/reconciliation">
          <Reconciliation role={role} />
        </Route>
        <Route path="/detection">
          <Detection role={role} />
        </Route>
        <Route>
          <Home role={role} />
        </Route>
      </Switch>
    </Router>
  );
}

function Home({ role }: { role: Session['role'] }) {
  if (CAN.alerts(role)) return <AlertQueue />;
  if (CAN.pipeline(role)) return <Pipeline />;
  return (
    <main>
      <p>Nothing here for role {role}.</p>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [message, setMessage] = useState('');
  const signedIn = (s: Session | null) => {
    useSession(s);
    setSession(s);
  };
  useEffect(() => {
    whenSignedOut((why) => {
      setMessage(`You were signed out: ${why}`);
      signedIn(null);
    });
    api<Session>('GET', '/session', undefined, { signIn: true }).then(signedIn, () => signedIn(null));
  }, []);
  // The session's expiry: back to the sign-in page when it passes, without waiting for a request.
  useEffect(() => {
    if (!session) return;
    const left = Date.parse(session.expires_at) - Date.now();
    const t = setTimeout(
      () => {
        setMessage('Your session expired: sign in again.');
        signedIn(null);
      },
      Math.max(0, Math.min(left, 2 ** 31 - 1)),
    );
    return () => clearTimeout(t);
  }, [session]);
  const signOut = async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setMessage('Signed out.');
      signedIn(null);
    }
  };
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null)
    return (
      <SignIn
        message={message}
        onSignedIn={(s) => {
          setMessage('');
          signedIn(s);
        }}
      />
    );
  return <Shell session={session} onSignOut={() => void signOut()} />;
}

render(<App />, document.getElementById('app') as HTMLElement);
