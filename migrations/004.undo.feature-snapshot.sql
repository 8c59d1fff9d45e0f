ALTER TABLE transactions DROP COLUMN features;
