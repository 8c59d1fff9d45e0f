ALTER TABLE transactions DROP COLUMN late;
