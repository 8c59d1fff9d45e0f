-- Staged rollouts (issue 19): a rule set or a model promoted to a share of accounts first
-- (detection/canary.ts picks them by a hash of the account id), grown by command, completed into a
-- promotion, or rolled back by hand or by itself when a guardrail is crossed (models/rollout.ts).
-- Every step is one MySQL transaction with its audit entry, under the rule-set registry's lock, so
-- a process killed mid-step leaves the step done or not done.

-- At most one rollout runs at a time (enforced under the lock). `evidence` holds the guardrail
-- figures of the last check (and of the one that rolled it back).
CREATE TABLE IF NOT EXISTS rollouts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind ENUM('rules', 'model') NOT NULL,
  version VARCHAR(128) NOT NULL,
  -- What decides for the other accounts meanwhile (the active version when it started; NULL: the rule file, or no model).
  control_version VARCHAR(128) NULL,
  share_bp SMALLINT UNSIGNED NOT NULL,
  state ENUM('running', 'completed', 'rolled_back') NOT NULL,
  started_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  -- OPEN REVIEW alerts when it started (the review queue it is measured against).
  open_reviews_at_start BIGINT UNSIGNED NOT NULL,
  evidence JSON NULL,
  -- Who rolled it back (a person, or `guardrail`) and why: the trigger below audits it from these.
  ended_by VARCHAR(128) NULL,
  end_reason TEXT NULL,
  PRIMARY KEY (id),
  KEY ix_rollouts_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Decisions of each arm of a rollout, counted in the MySQL transaction that stores the
-- transactions, for the rows it inserts (a replay counts nothing twice); by partition so batches
-- of different partitions never wait for one counter row. The guardrails read them.
CREATE TABLE IF NOT EXISTS rollout_counts (
  rollout_id BIGINT UNSIGNED NOT NULL,
  arm ENUM('canary', 'control') NOT NULL,
  src_partition INT NOT NULL,
  decision ENUM('ALLOW', 'REVIEW', 'BLOCK') NOT NULL,
  n BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (rollout_id, arm, src_partition, decision)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A rollback's audit entry is written by the database, in the transaction that rolls it back: the
-- ingest processors roll a canary back when a guardrail is crossed, and their MySQL users may not
-- write the audit log themselves (platform/mysql-users.ts); this trigger runs with its definer's
-- (the migration's) rights, and writes only this one kind of entry, from the row.
CREATE TRIGGER IF NOT EXISTS rollouts_rollback_audit AFTER UPDATE ON rollouts FOR EACH ROW
  INSERT INTO audit_log (at, actor, client_addr, action, subject, detail)
  SELECT NOW(3), COALESCE(NEW.ended_by, 'unknown'), NULL, 'rollout.rollback', NEW.version,
         JSON_OBJECT('id', NEW.id, 'kind', NEW.kind, 'share', NEW.share_bp / 100, 'reason', NEW.end_reason,
                     'evidence', JSON_QUERY(COALESCE(NEW.evidence, '{}'), '$'))
    FROM DUAL WHERE OLD.state = 'running' AND NEW.state = 'rolled_back';
