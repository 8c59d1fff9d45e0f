DROP TRIGGER IF EXISTS alerts_rule_hits;
DROP TABLE IF EXISTS alert_rule_hits;
ALTER TABLE alerts DROP INDEX IF EXISTS ix_alerts_status_created;
ALTER TABLE alerts DROP INDEX IF EXISTS ix_alerts_event_time;
ALTER TABLE alerts DROP INDEX IF EXISTS ix_alerts_account_created;
