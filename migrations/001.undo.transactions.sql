DROP TABLE IF EXISTS transaction_duplicates;
DROP TABLE IF EXISTS transactions;
