-- Rule sets versioned and audited like models (issue 19): `txmon rules publish` stores a rule file's
-- exact text as a candidate; shadow, promote and rollback move it through the states models have
-- (models/lifecycle.ts). The processors decide with the active rule set when there is one, else
-- with TXMON_RULES_FILE (the authoring format and the local default).

-- One row per published text. `version` is what every decision stores (`<declared version>@<first
-- 12 hex digits of the text's SHA-256>`, detection/rules.ts), so a decision names the rules that
-- made it and `content` holds them byte for byte. At most one active and one in shadow (enforced by
-- txmon's commands under the lock of rule_set_registry).
CREATE TABLE IF NOT EXISTS rule_sets (
  version VARCHAR(128) NOT NULL,
  name VARCHAR(128) NOT NULL,
  state ENUM('candidate', 'shadow', 'active', 'retired') NOT NULL,
  content MEDIUMTEXT NOT NULL,
  content_sha256 CHAR(64) NOT NULL,
  rule_count INT UNSIGNED NOT NULL,
  author VARCHAR(128) NOT NULL,
  reason TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  state_changed_at DATETIME(3) NOT NULL,
  -- When it last became active: `txmon rules rollback` returns to the latest one before the current.
  last_active_at DATETIME(3) NULL,
  PRIMARY KEY (version),
  -- Readers: publish (the same text twice is one version), the processors' poll (by state).
  UNIQUE KEY uq_rule_sets_content (content_sha256),
  KEY ix_rule_sets_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row; `revision` goes up with every publication and state change, so processors poll one integer.
CREATE TABLE IF NOT EXISTS rule_set_registry (
  id TINYINT UNSIGNED NOT NULL,
  revision BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB;
INSERT IGNORE INTO rule_set_registry (id, revision) VALUES (1, 0);

-- What the rule set in shadow decided beside the live one (GET /api/v1/rules/{version}/shadow-report):
-- counts per (rule set, input partition, UTC day of event time, live decision, shadow decision),
-- written in the MySQL transaction that stores the transactions (sinks/decision-counts.sink.ts) for
-- the rows it inserts, so a replay, which inserts none, counts nothing twice. Keyed by partition too,
-- so batches of different partitions never wait for one counter row.
CREATE TABLE IF NOT EXISTS rule_shadow_counts (
  version VARCHAR(128) NOT NULL,
  src_partition INT NOT NULL,
  day DATE NOT NULL,
  decision ENUM('ALLOW', 'REVIEW', 'BLOCK') NOT NULL,
  shadow_decision ENUM('ALLOW', 'REVIEW', 'BLOCK') NOT NULL,
  n BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (version, src_partition, day, decision, shadow_decision)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
