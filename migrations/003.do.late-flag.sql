-- Event-time lateness (issue 4): a transaction older than its partition's watermark (max event
-- time seen before it minus the allowed lateness) is stored, flagged, and kept out of windows.
ALTER TABLE transactions ADD COLUMN late BOOLEAN NOT NULL DEFAULT FALSE AFTER longitude;
