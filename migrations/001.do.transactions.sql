-- Valid, deduplicated transactions. transaction_id is unique: the sink upserts, so a replay is a no-op.
-- src_* is the first-seen Kafka position: re-reading that same record is a replay, a different
-- position with the same transaction_id is a duplicate (see transaction_duplicates).
CREATE TABLE IF NOT EXISTS transactions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  transaction_id VARCHAR(64) NOT NULL,
  idempotency_key VARCHAR(128) NOT NULL,
  type ENUM('AUTHORIZATION', 'CAPTURE', 'REFUND', 'REVERSAL') NOT NULL,
  account_id VARCHAR(64) NOT NULL,
  card_token VARCHAR(64) NOT NULL,
  card_last4 CHAR(4) NULL,
  merchant_id VARCHAR(64) NOT NULL,
  mcc CHAR(4) NOT NULL,
  merchant_country CHAR(2) NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  event_time DATETIME(3) NOT NULL,
  channel VARCHAR(16) NOT NULL,
  device_id VARCHAR(64) NULL,
  ip_country CHAR(2) NULL,
  reference VARCHAR(64) NOT NULL,
  parent_transaction_id VARCHAR(64) NULL,
  latitude DOUBLE NULL,
  longitude DOUBLE NULL,
  src_topic VARCHAR(249) NOT NULL,
  src_partition INT NOT NULL,
  src_offset BIGINT NOT NULL,
  ingested_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_transactions_transaction_id (transaction_id),
  -- Not unique: a recreated topic (or a failover cluster) reuses offsets, and a new transaction at a
  -- reused position must never be swallowed by an upsert on this key.
  KEY ix_transactions_src (src_topic, src_partition, src_offset),
  KEY ix_transactions_account_time (account_id, event_time),
  KEY ix_transactions_reference (reference),
  KEY ix_transactions_event_time (event_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every duplicate delivery, with where the original was first seen: the audit trail of dedup.
-- Keyed by the duplicate's own position, so replaying it inserts nothing.
CREATE TABLE IF NOT EXISTS transaction_duplicates (
  src_topic VARCHAR(249) NOT NULL,
  src_partition INT NOT NULL,
  src_offset BIGINT NOT NULL,
  transaction_id VARCHAR(64) NOT NULL,
  first_seen_position VARCHAR(300) NOT NULL,
  detected_by ENUM('redis', 'mysql') NOT NULL,
  recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (src_topic, src_partition, src_offset),
  KEY ix_transaction_duplicates_tx (transaction_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
