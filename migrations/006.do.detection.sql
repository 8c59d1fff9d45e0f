-- Detection (issue 5): the model registry, decisions, alerts, labels and the append-only audit log.

-- Every trained model. The forest itself is the checksummed file of detection/forest-file.ts; the
-- baseline holds the training distributions (per feature and of the score) that drift is measured
-- against. At most one model is active and at most one is in shadow (enforced by txmon's commands,
-- which change states in one transaction under a lock on model_registry).
CREATE TABLE IF NOT EXISTS models (
  version VARCHAR(64) NOT NULL,
  state ENUM('candidate', 'shadow', 'active', 'retired') NOT NULL,
  created_at DATETIME(3) NOT NULL,
  state_changed_at DATETIME(3) NOT NULL,
  -- When it last became active: `txmon model rollback` returns to the latest one before the current.
  last_active_at DATETIME(3) NULL,
  trained_from DATETIME(3) NOT NULL,
  trained_to DATETIME(3) NOT NULL,
  training_rows INT UNSIGNED NOT NULL,
  params JSON NOT NULL,
  features JSON NOT NULL,
  threshold DOUBLE NOT NULL,
  baseline JSON NOT NULL,
  metrics JSON NULL,
  checksum CHAR(71) NOT NULL,
  forest LONGTEXT NOT NULL,
  PRIMARY KEY (version),
  KEY ix_models_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row; `revision` goes up with every state change, so processors poll one integer to notice.
CREATE TABLE IF NOT EXISTS model_registry (
  id TINYINT UNSIGNED NOT NULL,
  revision BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB;
INSERT IGNORE INTO model_registry (id, revision) VALUES (1, 0);

-- One decision per transaction (a replay finds it and reuses it, so its alert is the same). The
-- feature snapshot it was made from is transactions.features of the same transaction_id (see the
-- decision_audit view).
CREATE TABLE IF NOT EXISTS decisions (
  transaction_id VARCHAR(64) NOT NULL,
  account_id VARCHAR(64) NOT NULL,
  decision ENUM('ALLOW', 'REVIEW', 'BLOCK') NOT NULL,
  risk_score DOUBLE NOT NULL,
  model_version VARCHAR(64) NULL,
  model_score DOUBLE NULL,
  shadow_model_version VARCHAR(64) NULL,
  shadow_score DOUBLE NULL,
  ruleset_version VARCHAR(128) NOT NULL,
  rule_hits JSON NOT NULL,
  explanation JSON NOT NULL,
  alert_id CHAR(32) NULL,
  event_time DATETIME(3) NOT NULL,
  decided_at DATETIME(3) NOT NULL,
  PRIMARY KEY (transaction_id),
  KEY ix_decisions_decision_time (decision, event_time),
  KEY ix_decisions_model (model_version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- REVIEW and BLOCK decisions, with their triage state for analysts (issue 7 adds the workflow).
CREATE TABLE IF NOT EXISTS alerts (
  alert_id CHAR(32) NOT NULL,
  transaction_id VARCHAR(64) NOT NULL,
  account_id VARCHAR(64) NOT NULL,
  decision ENUM('REVIEW', 'BLOCK') NOT NULL,
  risk_score DOUBLE NOT NULL,
  summary TEXT NOT NULL,
  status ENUM('OPEN', 'IN_REVIEW', 'CONFIRMED_FRAUD', 'FALSE_POSITIVE', 'CLOSED') NOT NULL DEFAULT 'OPEN',
  event_time DATETIME(3) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (alert_id),
  UNIQUE KEY uq_alerts_transaction (transaction_id),
  KEY ix_alerts_status_time (status, event_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Ground truth for evaluation and training: the simulator's labels now, analysts' later.
CREATE TABLE IF NOT EXISTS labels (
  transaction_id VARCHAR(64) NOT NULL,
  label ENUM('fraud', 'legit') NOT NULL,
  pattern VARCHAR(64) NULL,
  source VARCHAR(32) NOT NULL,
  labelled_at DATETIME(3) NOT NULL,
  PRIMARY KEY (transaction_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Append-only: model changes, training runs, analyst actions. The triggers refuse edits.
CREATE TABLE IF NOT EXISTS audit_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  at DATETIME(3) NOT NULL,
  actor VARCHAR(128) NOT NULL,
  action VARCHAR(64) NOT NULL,
  subject VARCHAR(128) NOT NULL,
  detail JSON NOT NULL,
  PRIMARY KEY (id),
  KEY ix_audit_subject (subject, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';

-- A decision with everything it was made from, for audit.
CREATE OR REPLACE VIEW decision_audit AS
  SELECT d.*, t.features AS feature_snapshot, t.amount_minor, t.currency, t.merchant_id
  FROM decisions d JOIN transactions t ON t.transaction_id = d.transaction_id;
