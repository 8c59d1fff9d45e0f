-- One row per transaction (issue 17, items 3 and 4): the decision lives in its transaction's row,
-- the feature snapshot is a vector of values in a registered layout, rule hits and explanations are
-- kept where there is an alert, and only the indexes a named reader uses remain. docs/storage.md
-- has the row, the layouts and the measured costs.

-- The names of a feature vector, once: a row stores its layout's version and the values in order.
-- Registered idempotently (INSERT IGNORE on the names' hash) by `txmon migrate` for the configured
-- windows (sinks/feature-vector.ts), and here for the snapshots stored before this migration.
CREATE TABLE IF NOT EXISTS feature_layouts (
  version SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  names JSON NOT NULL,
  names_sha256 BINARY(32) AS (UNHEX(SHA2(JSON_COMPACT(names), 256))) STORED,
  registered_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (version),
  UNIQUE KEY uq_feature_layouts_names (names_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The row: the snapshot as its layout and a JSON array of values (the encodings measured are in
-- docs/storage.md), and the decision's columns (NULL for a row stored before decisions existed).
-- Indexes, each with its reader (PRIMARY and uq_transactions_transaction_id are kept):
--   PRIMARY (id)                           model training (models/history.ts) and the state rebuild page by id
--   uq_transactions_transaction_id         dedup and replay look-up (sinks/transactions.sink.ts lookupStored),
--                                          GET /transactions/{id}, the joins from alerts, labels, the decisions view
--   ix_transactions_event_time             the rebuild's start (MAX(event_time), state-rebuild.ts), training's
--                                          range (models/history.ts storedRange), the demo's counts of one day
--   ix_transactions_model_decided          GET /models/drift: the latest decisions of the active model
-- Dropped, no reader: ix_transactions_src (positions are read by transaction id), ix_transactions_account_time
-- (account aggregates are read from Redis), ix_transactions_reference (reconciliation matches recon_items).
ALTER TABLE transactions
  ADD COLUMN feature_layout SMALLINT UNSIGNED NULL AFTER late,
  ADD COLUMN feature_values BLOB NULL AFTER feature_layout,
  ADD COLUMN decision ENUM('ALLOW', 'REVIEW', 'BLOCK') NULL AFTER src_offset,
  ADD COLUMN risk_score DOUBLE NULL AFTER decision,
  ADD COLUMN model_version VARCHAR(64) NULL AFTER risk_score,
  ADD COLUMN model_score DOUBLE NULL AFTER model_version,
  ADD COLUMN shadow_model_version VARCHAR(64) NULL AFTER model_score,
  ADD COLUMN shadow_score DOUBLE NULL AFTER shadow_model_version,
  ADD COLUMN ruleset_version VARCHAR(128) NULL AFTER shadow_score,
  ADD COLUMN alert_id CHAR(32) NULL AFTER ruleset_version,
  ADD COLUMN decided_at DATETIME(3) NULL AFTER alert_id,
  DROP INDEX IF EXISTS ix_transactions_src,
  DROP INDEX IF EXISTS ix_transactions_account_time,
  DROP INDEX IF EXISTS ix_transactions_reference,
  ADD INDEX ix_transactions_model_decided (model_version, decided_at);

-- An alert keeps its decision's rule hits and explanation (an ALLOW keeps neither: nobody reads them).
ALTER TABLE alerts
  ADD COLUMN rule_hits JSON NOT NULL DEFAULT '[]' AFTER summary,
  ADD COLUMN explanation JSON NULL AFTER rule_hits;

-- The snapshots stored before: one layout per distinct list of names, the values in their order.
INSERT IGNORE INTO feature_layouts (names)
  SELECT DISTINCT JSON_COMPACT(JSON_KEYS(features)) FROM transactions WHERE features IS NOT NULL;
UPDATE transactions t
  JOIN feature_layouts l ON l.names_sha256 = UNHEX(SHA2(JSON_COMPACT(JSON_KEYS(t.features)), 256))
   SET t.feature_layout = l.version, t.feature_values = COALESCE(JSON_COMPACT(JSON_EXTRACT(t.features, '$.*')), '[]')
 WHERE t.features IS NOT NULL;

-- The decisions stored before.
UPDATE transactions t JOIN decisions d ON d.transaction_id = t.transaction_id
   SET t.decision = d.decision, t.risk_score = d.risk_score, t.model_version = d.model_version, t.model_score = d.model_score,
       t.shadow_model_version = d.shadow_model_version, t.shadow_score = d.shadow_score, t.ruleset_version = d.ruleset_version,
       t.alert_id = d.alert_id, t.decided_at = d.decided_at;
UPDATE alerts a JOIN decisions d ON d.transaction_id = a.transaction_id
   SET a.rule_hits = d.rule_hits, a.explanation = d.explanation;

-- alert_rule_hits (migration 012) from the alert's own rule hits: the alert row is inserted with them.
DROP TRIGGER IF EXISTS alerts_rule_hits;
CREATE TRIGGER alerts_rule_hits AFTER INSERT ON alerts FOR EACH ROW
  INSERT IGNORE INTO alert_rule_hits (alert_id, rule_id, severity, created_at)
  SELECT NEW.alert_id, h.rule_id, h.severity, NEW.created_at
    FROM JSON_TABLE(NEW.rule_hits, '$[*]' COLUMNS (rule_id VARCHAR(128) PATH '$.ruleId', severity VARCHAR(16) PATH '$.severity')) h
   WHERE h.rule_id IS NOT NULL AND h.severity IS NOT NULL;

-- `features` keeps returning the named JSON object it always did (outside readers query it): a
-- VIRTUAL column computed from the layout and the values, so it costs nothing on the write path.
-- A generated column cannot read another table, so the layouts are spelled out in its expression:
-- this procedure writes it from feature_layouts, and runs again whenever `txmon migrate` registers
-- a new layout (in place: a virtual column's new expression rewrites no row). The object is spliced
-- from the array's text, `"name":` before each value, which gives back byte for byte the text the
-- old column held. It splits at commas, which holds because a snapshot's values are numbers,
-- booleans, null and risk tiers (domain/snapshot.ts SnapshotWriter refuses a string with a comma);
-- JSON_EXTRACT per value, the obvious expression, parses the array once per name: ~220 µs a row.
DROP VIEW IF EXISTS decision_audit;
ALTER TABLE transactions DROP COLUMN features;

CREATE OR REPLACE PROCEDURE txmon_regenerate_features()
  MODIFIES SQL DATA
  COMMENT 'Rewrites transactions.features (VIRTUAL) from feature_layouts; run after a layout is registered'
BEGIN
  DECLARE expr LONGTEXT;
  DECLARE present INT;
  SET SESSION group_concat_max_len = 16777216;
  SELECT CONCAT('CASE feature_layout', GROUP_CONCAT(CONCAT(' WHEN ', p.version, ' THEN CONCAT(', p.pieces, ', ''}'')') ORDER BY p.version SEPARATOR ''), ' END')
    INTO expr
    FROM (SELECT l.version,
                 GROUP_CONCAT(
                   CONCAT(QUOTE(CONCAT(IF(n.i = 1, '{', ','), JSON_QUOTE(n.name), ':')),
                          ', SUBSTRING_INDEX(SUBSTRING_INDEX(MID(feature_values, 2, LENGTH(feature_values) - 2), '','', ', n.i, '), '','', -1)')
                   ORDER BY n.i SEPARATOR ', ') AS pieces
            FROM feature_layouts l, JSON_TABLE(l.names, '$[*]' COLUMNS (i FOR ORDINALITY, name VARCHAR(128) PATH '$')) n
           GROUP BY l.version) p;
  SELECT COUNT(*) INTO present FROM information_schema.columns
   WHERE table_schema = DATABASE() AND table_name = 'transactions' AND column_name = 'features';
  SET @txmon_features_sql = CONCAT('ALTER TABLE transactions ', IF(present > 0, 'MODIFY', 'ADD'),
    ' COLUMN features LONGTEXT AS (', COALESCE(expr, 'NULL'), ') VIRTUAL AFTER feature_values');
  PREPARE stmt FROM @txmon_features_sql;
  EXECUTE stmt;
  DEALLOCATE PREPARE stmt;
END;

CALL txmon_regenerate_features();

-- `decisions` becomes a view with the old table's columns, so every read of it keeps working. An
-- ALLOW has no stored rule hits or explanation: `[]`, and an explanation that says so.
DROP TABLE decisions;
CREATE VIEW decisions AS
  SELECT t.transaction_id, t.account_id, t.decision, t.risk_score, t.model_version, t.model_score, t.shadow_model_version,
         t.shadow_score, t.ruleset_version,
         COALESCE(a.rule_hits, '[]') AS rule_hits,
         COALESCE(a.explanation, JSON_OBJECT('summary', CONCAT(t.decision, ': explanations are kept for alerts only'), 'model', NULL)) AS explanation,
         t.alert_id, t.event_time, t.decided_at
    FROM transactions t LEFT JOIN alerts a ON a.alert_id = t.alert_id
   WHERE t.decision IS NOT NULL;

-- A decision with everything it was made from, for audit (as migration 006 defined it).
CREATE VIEW decision_audit AS
  SELECT d.*, t.features AS feature_snapshot, t.amount_minor, t.currency, t.merchant_id
  FROM decisions d JOIN transactions t ON t.transaction_id = d.transaction_id;
