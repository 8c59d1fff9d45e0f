ALTER TABLE audit_log DROP COLUMN IF EXISTS client_addr;
