/**
 * Console sessions (issue 20): an API key is exchanged once (`POST /api/v1/session`) for a random
 * session token, which the browser keeps in an HttpOnly, SameSite=Strict cookie; the key itself never
 * stays in the page. MySQL keeps only the token's SHA-256 (`api_sessions`, migration 017). A session
 * ends at its expiry, at sign-out (revoked), or when its key is revoked: the look-up joins `api_keys`,
 * so a revoked key's sessions stop verifying within the verifier's cache period, as the key does.
 *
 * Writes made with a session must also carry `X-CSRF-Token`, a value derived from the session's
 * token (`csrfToken`) that the page receives in the sign-in answer: another site can make the browser
 * send the cookie (SameSite=Strict already stops that in current browsers) but cannot read the
 * token's derivation, so it cannot forge the header.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { inTransaction, type Pool } from '../../platform/mysql.ts';
import { audit } from '../../sinks/audit.ts';
import type { Principal, Role } from './api-keys.ts';

/** The session cookie's name. */
export const SESSION_COOKIE = 'txmon_session';
/** The header a session's writes carry. */
export const CSRF_HEADER = 'x-csrf-token';

const TOKEN = /^txs_[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface SessionPrincipal extends Principal {
  expiresAt: Date;
}

/** True when `token` is shaped like a session token (anything else is refused without a look-up). */
export function isSessionToken(token: string): boolean {
  return TOKEN.test(token);
}

/** The CSRF token of a session: what its writes must send in X-CSRF-Token. */
export function csrfToken(sessionToken: string): string {
  return createHash('sha256').update('txmon-csrf\0').update(sessionToken).digest('base64url');
}

/** Whether `presented` is the CSRF token of `sessionToken` (constant time). */
export function csrfMatches(sessionToken: string, presented: string | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const want = Buffer.from(csrfToken(sessionToken));
  const got = Buffer.from(presented);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The session token in a Cookie header, if any. */
export function sessionFromCookie(header: string | undefined): string | null {
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return isSessionToken(value) ? value : null;
  }
  return null;
}

/** The Set-Cookie value that stores `token` for `maxAgeMs` (or clears the cookie when token is null). */
export function sessionCookie(token: string | null, maxAgeMs: number, secure: boolean): string {
  const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  if (token === null) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attrs].join('; ');
  return [`${SESSION_COOKIE}=${token}`, `Max-Age=${Math.max(1, Math.floor(maxAgeMs / 1000))}`, ...attrs].join('; ');
}

/** Opens a session for a verified key's principal, audited (session.create); returns its token. */
export async function createSession(
  pool: Pool,
  principal: Principal,
  ttlMs: number,
  clientAddr: string | null,
): Promise<{ token: string; expiresAt: Date }> {
  const token = `txs_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + ttlMs);
  await inTransaction(pool, async (conn) => {
    await conn.query(
      'INSERT INTO api_sessions (token_sha256, key_id, created_at, expires_at, client_addr) VALUES (?, ?, NOW(3), ?, ?)',
      [sha256(token), principal.keyId, expiresAt, clientAddr],
    );
    await audit(
      conn,
      `${principal.name} (key ${principal.keyId})`,
      'session.create',
      `apikey:${principal.keyId}`,
      { expires_at: expiresAt.toISOString() },
      clientAddr,
    );
  });
  return { token, expiresAt };
}

/** The principal of a session token, or null when it is unknown, expired, signed out or its key revoked. */
export async function verifySession(pool: Pool, token: string): Promise<SessionPrincipal | null> {
  if (!isSessionToken(token)) return null;
  const [[row]] = await pool.query<RowDataPacket[]>(
    `SELECT k.key_id, k.name, k.role, s.expires_at
       FROM api_sessions s JOIN api_keys k ON k.key_id = s.key_id
      WHERE s.token_sha256 = ? AND s.revoked_at IS NULL AND s.expires_at > NOW(3) AND k.revoked_at IS NULL`,
    [sha256(token)],
  );
  if (!row) return null;
  return { keyId: String(row.key_id), name: String(row.name), role: row.role as Role, expiresAt: row.expires_at as Date };
}

/** Ends a session (sign-out), audited (session.end); false when it had ended already. */
export async function endSession(pool: Pool, token: string, principal: Principal, clientAddr: string | null): Promise<boolean> {
  if (!isSessionToken(token)) return false;
  return inTransaction(pool, async (conn) => {
    const [res] = await conn.query('UPDATE api_sessions SET revoked_at = NOW(3) WHERE token_sha256 = ? AND revoked_at IS NULL', [
      sha256(token),
    ]);
    if ((res as { affectedRows: number }).affectedRows !== 1) return false;
    await audit(conn, `${principal.name} (key ${principal.keyId})`, 'session.end', `apikey:${principal.keyId}`, {}, clientAddr);
    return true;
  });
}
