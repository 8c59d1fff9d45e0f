-- A capture or reversal supersedes the transaction it belongs to (parent_transaction_id): the
-- authorization is no longer expected to settle on its own (its captures settle instead, or it was
-- cancelled). Kept by the reconcile processor whatever the order the two arrive in.
CREATE TABLE IF NOT EXISTS recon_supersessions (
  child_transaction_id VARCHAR(64) NOT NULL,
  parent_transaction_id VARCHAR(64) NOT NULL,
  type ENUM('CAPTURE', 'REVERSAL') NOT NULL,
  PRIMARY KEY (child_transaction_id),
  KEY ix_recon_supersessions_parent (parent_transaction_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
