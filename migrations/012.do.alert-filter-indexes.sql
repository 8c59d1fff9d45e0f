-- Indexes for the alert list's filters (issue 16, item 7). Each is named with the reader it serves;
-- without them a filtered page read every alert (and a JSON scan of every decision's rule hits).
-- The unfiltered list pages by ix_alerts_created (migration 009).

-- GET /api/v1/alerts?account_id=  (newest first: the index gives the order, a page stops at its limit)
ALTER TABLE alerts ADD INDEX IF NOT EXISTS ix_alerts_account_created (account_id, created_at, alert_id);

-- GET /api/v1/alerts?from=&to=  (event-time range)
ALTER TABLE alerts ADD INDEX IF NOT EXISTS ix_alerts_event_time (event_time);

-- GET /api/v1/alerts?status=  (newest first within a status; ix_alerts_status_time orders by event time)
ALTER TABLE alerts ADD INDEX IF NOT EXISTS ix_alerts_status_created (status, created_at, alert_id);

-- GET /api/v1/alerts?rule_id=  and  ?severity=
-- An alert's rule hits are a JSON array in decisions.rule_hits, which MariaDB cannot index (no
-- multi-valued indexes): one row per (alert, rule hit) here, written by a trigger when the alert is
-- inserted (its decision is inserted first, in the same MySQL transaction, by sinks/decisions.sink.ts).
-- A replayed batch re-inserts neither (ON DUPLICATE KEY on alerts fires no insert trigger), and the
-- primary key makes a repeat harmless anyway. Rows go with their alert (ON DELETE CASCADE).
CREATE TABLE IF NOT EXISTS alert_rule_hits (
  alert_id CHAR(32) NOT NULL,
  rule_id VARCHAR(128) NOT NULL,
  severity VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (alert_id, rule_id),
  -- GET /api/v1/alerts?rule_id=
  KEY ix_alert_rule_hits_rule (rule_id, created_at, alert_id),
  -- GET /api/v1/alerts?severity=
  KEY ix_alert_rule_hits_severity (severity, created_at, alert_id),
  CONSTRAINT fk_alert_rule_hits_alert FOREIGN KEY (alert_id) REFERENCES alerts (alert_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TRIGGER IF NOT EXISTS alerts_rule_hits AFTER INSERT ON alerts FOR EACH ROW
  INSERT IGNORE INTO alert_rule_hits (alert_id, rule_id, severity, created_at)
  SELECT NEW.alert_id, h.rule_id, h.severity, NEW.created_at
    FROM decisions d,
         JSON_TABLE(d.rule_hits, '$[*]' COLUMNS (rule_id VARCHAR(128) PATH '$.ruleId', severity VARCHAR(16) PATH '$.severity')) h
   WHERE d.transaction_id = NEW.transaction_id AND h.rule_id IS NOT NULL AND h.severity IS NOT NULL;

-- The alerts stored before this migration.
INSERT IGNORE INTO alert_rule_hits (alert_id, rule_id, severity, created_at)
  SELECT a.alert_id, h.rule_id, h.severity, a.created_at
    FROM alerts a JOIN decisions d ON d.transaction_id = a.transaction_id,
         JSON_TABLE(d.rule_hits, '$[*]' COLUMNS (rule_id VARCHAR(128) PATH '$.ruleId', severity VARCHAR(16) PATH '$.severity')) h
   WHERE h.rule_id IS NOT NULL AND h.severity IS NOT NULL;
