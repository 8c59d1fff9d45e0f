-- Dashboard API keys (issue 7): only a SHA-256 of each key's secret is stored; the key itself is
-- shown once when `txmon apikey create` makes it. A revoked key stays for the audit trail.
CREATE TABLE IF NOT EXISTS api_keys (
  key_id CHAR(12) NOT NULL,
  name VARCHAR(128) NOT NULL,
  role ENUM('analyst', 'sre', 'admin') NOT NULL,
  secret_sha256 CHAR(64) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  created_by VARCHAR(128) NOT NULL,
  revoked_at DATETIME(3) NULL,
  last_used_at DATETIME(3) NULL,
  PRIMARY KEY (key_id),
  KEY ix_api_keys_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The alert list pages newest first by (created_at, alert_id): a keyset on a key that only grows.
ALTER TABLE alerts ADD INDEX IF NOT EXISTS ix_alerts_created (created_at, alert_id);
