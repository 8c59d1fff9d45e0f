-- Reconciliation (issue 6): settlement lines, the transactions that expect settlement, one result per
-- reference group, the history of its changes (also the outbox of the exceptions topic), and the
-- reconcile processor's event-time progress. See docs/reconciliation.md.

-- Every settlement line received, once: settlement_id is the line's identity, so re-importing a
-- file or replaying the topic inserts nothing. src_* is where it was first read.
CREATE TABLE IF NOT EXISTS settlements (
  settlement_id VARCHAR(64) NOT NULL,
  transaction_reference VARCHAR(64) NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  settlement_date DATE NOT NULL,
  batch_id VARCHAR(64) NOT NULL,
  fee_minor BIGINT NOT NULL,
  event_time DATETIME(3) NOT NULL,
  src_topic VARCHAR(249) NOT NULL,
  src_partition INT NOT NULL,
  src_offset BIGINT NOT NULL,
  received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (settlement_id),
  KEY ix_settlements_reference (transaction_reference)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The transactions that expect settlement (types in TXMON_RECON_SETTLED_TYPES), read by the
-- reconcile processor from the transactions topic itself: gap-free and in event time, whatever
-- the ingest processor's progress. No card data.
CREATE TABLE IF NOT EXISTS recon_items (
  transaction_id VARCHAR(64) NOT NULL,
  reference VARCHAR(64) NOT NULL,
  type ENUM('AUTHORIZATION', 'CAPTURE', 'REFUND', 'REVERSAL') NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  event_time DATETIME(3) NOT NULL,
  src_topic VARCHAR(249) NOT NULL,
  src_partition INT NOT NULL,
  src_offset BIGINT NOT NULL,
  PRIMARY KEY (transaction_id),
  KEY ix_recon_items_reference (reference)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per reference: the group's current outcome (reconciliation/match.ts). `resolution` is
-- set only by an audited action (RESOLVED or ACCEPTED), never by the processor.
CREATE TABLE IF NOT EXISTS recon_results (
  reference VARCHAR(64) NOT NULL,
  status ENUM('PENDING', 'MATCHED', 'AMOUNT_MISMATCH', 'CURRENCY_MISMATCH', 'DUPLICATE_SETTLEMENT',
    'MISSING_SETTLEMENT', 'UNEXPECTED_SETTLEMENT', 'LATE_MATCH') NOT NULL,
  reason VARCHAR(255) NOT NULL,
  expected_minor BIGINT NULL,
  settled_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  transactions INT UNSIGNED NOT NULL,
  settlement_lines INT UNSIGNED NOT NULL,
  business_date DATE NOT NULL,
  deadline DATETIME(3) NOT NULL,
  revision INT UNSIGNED NOT NULL,
  -- Wall-clock time the group first became an exception (kept through later changes).
  exception_since DATETIME(3) NULL,
  resolution ENUM('RESOLVED', 'ACCEPTED') NULL,
  resolved_by VARCHAR(128) NULL,
  resolved_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (reference),
  KEY ix_recon_results_pending (status, deadline),
  KEY ix_recon_results_date (business_date, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every change of a group that the exceptions topic carries, with its Avro payload as JSON. It is
-- also the topic's outbox: `published` turns 1 once the Kafka transaction that carried it has
-- committed; src_* is the input batch (its last offset) whose processing made the change.
CREATE TABLE IF NOT EXISTS recon_events (
  exception_id CHAR(32) NOT NULL,
  reference VARCHAR(64) NOT NULL,
  revision INT UNSIGNED NOT NULL,
  status VARCHAR(32) NOT NULL,
  payload JSON NOT NULL,
  src_topic VARCHAR(249) NOT NULL,
  src_partition INT NOT NULL,
  src_offset BIGINT NOT NULL,
  published TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (exception_id),
  UNIQUE KEY uq_recon_events_revision (reference, revision),
  KEY ix_recon_events_outbox (src_topic, src_partition, published, src_offset)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The reconcile processor's progress, one row per consumer group; every batch locks it, so
-- instances sharing the group apply their batches one at a time.
CREATE TABLE IF NOT EXISTS recon_progress (
  group_id VARCHAR(255) NOT NULL,
  -- Latest settlement event time seen; the watermark is this less TXMON_RECON_ALLOWED_LATENESS_MS.
  max_settlement_time DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (group_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
