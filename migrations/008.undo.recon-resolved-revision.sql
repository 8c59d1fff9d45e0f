ALTER TABLE recon_results DROP COLUMN IF EXISTS resolved_revision;
