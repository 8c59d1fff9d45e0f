-- A resolution closes the revision it was made on: a group that changes afterwards (a late line, a
-- second payment) is an open exception again until someone resolves or accepts the new revision.
ALTER TABLE recon_results ADD COLUMN IF NOT EXISTS resolved_revision INT UNSIGNED NULL AFTER resolution;
UPDATE recon_results SET resolved_revision = revision WHERE resolution IS NOT NULL AND resolved_revision IS NULL;
