-- The feature snapshot of each transaction (issue 4): static enrichment plus the account's, card's,
-- merchant's and device's windowed features as they were when it was processed. Stored with the
-- row, so decisions can be audited and models trained from exactly what was seen. NULL for rows
-- written before this migration.
ALTER TABLE transactions ADD COLUMN features JSON NULL AFTER late;
