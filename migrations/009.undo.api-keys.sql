ALTER TABLE alerts DROP INDEX IF EXISTS ix_alerts_created;
DROP TABLE IF EXISTS api_keys;
