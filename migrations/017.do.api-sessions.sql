-- Console sessions (issue 20): an API key exchanged once for a session cookie. Only a SHA-256 of
-- the session's token is stored; the token lives in the browser's HttpOnly cookie. A session ends at
-- its expiry, at sign-out (revoked_at), or with its key (the look-up joins api_keys and refuses a
-- revoked key). Kept after they end for the audit trail (who was signed in when).
CREATE TABLE IF NOT EXISTS api_sessions (
  token_sha256 CHAR(64) NOT NULL,
  key_id CHAR(12) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  client_addr VARCHAR(64) NULL,
  PRIMARY KEY (token_sha256),
  -- reader: `txmon apikey revoke` (a key's sessions end with it) and an admin's look at who is signed in
  KEY ix_api_sessions_key (key_id, expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
