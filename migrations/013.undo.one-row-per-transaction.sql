-- Back to two rows per transaction: the decisions table and the JSON snapshot column, refilled.
DROP VIEW IF EXISTS decision_audit;
DROP VIEW IF EXISTS decisions;
CREATE TABLE decisions (
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
INSERT INTO decisions
  SELECT t.transaction_id, t.account_id, t.decision, t.risk_score, t.model_version, t.model_score, t.shadow_model_version,
         t.shadow_score, t.ruleset_version, COALESCE(a.rule_hits, '[]'),
         COALESCE(a.explanation, JSON_OBJECT('summary', CONCAT(t.decision, ': explanations are kept for alerts only'), 'model', NULL)),
         t.alert_id, t.event_time, t.decided_at
    FROM transactions t LEFT JOIN alerts a ON a.alert_id = t.alert_id
   WHERE t.decision IS NOT NULL;

ALTER TABLE transactions ADD COLUMN features_json JSON NULL AFTER late;
UPDATE transactions SET features_json = features WHERE features IS NOT NULL;
ALTER TABLE transactions DROP COLUMN features;
ALTER TABLE transactions CHANGE COLUMN features_json features JSON NULL;
DROP PROCEDURE IF EXISTS txmon_regenerate_features;

ALTER TABLE transactions
  DROP INDEX IF EXISTS ix_transactions_model_decided,
  DROP COLUMN decided_at, DROP COLUMN alert_id, DROP COLUMN ruleset_version, DROP COLUMN shadow_score,
  DROP COLUMN shadow_model_version, DROP COLUMN model_score, DROP COLUMN model_version, DROP COLUMN risk_score,
  DROP COLUMN decision, DROP COLUMN feature_values, DROP COLUMN feature_layout,
  ADD KEY ix_transactions_src (src_topic, src_partition, src_offset),
  ADD KEY ix_transactions_account_time (account_id, event_time),
  ADD KEY ix_transactions_reference (reference);
DROP TABLE IF EXISTS feature_layouts;

DROP TRIGGER IF EXISTS alerts_rule_hits;
CREATE TRIGGER alerts_rule_hits AFTER INSERT ON alerts FOR EACH ROW
  INSERT IGNORE INTO alert_rule_hits (alert_id, rule_id, severity, created_at)
  SELECT NEW.alert_id, h.rule_id, h.severity, NEW.created_at
    FROM decisions d,
         JSON_TABLE(d.rule_hits, '$[*]' COLUMNS (rule_id VARCHAR(128) PATH '$.ruleId', severity VARCHAR(16) PATH '$.severity')) h
   WHERE d.transaction_id = NEW.transaction_id AND h.rule_id IS NOT NULL AND h.severity IS NOT NULL;
ALTER TABLE alerts DROP COLUMN explanation, DROP COLUMN rule_hits;

CREATE OR REPLACE VIEW decision_audit AS
  SELECT d.*, t.features AS feature_snapshot, t.amount_minor, t.currency, t.merchant_id
  FROM decisions d JOIN transactions t ON t.transaction_id = d.transaction_id;
