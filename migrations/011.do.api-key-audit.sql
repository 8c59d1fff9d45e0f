-- Issue 16: every audited write records the client address it came from (NULL: the command line on
-- a host with database access, or a processor), so an entry can be traced back to a machine and not
-- only to the key's self-chosen name. Key creation and revocation are audited too (actions
-- apikey.create / apikey.revoke, subject apikey:<key id>).
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS client_addr VARCHAR(45) NULL AFTER actor;
