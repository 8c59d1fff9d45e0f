-- Reference data for enrichment (issue 4), loaded by `txmon refdata load` from CSV, upserted by key.
CREATE TABLE IF NOT EXISTS ref_accounts (
  account_id VARCHAR(64) NOT NULL,
  opened_at DATETIME(3) NOT NULL,
  home_country CHAR(2) NOT NULL,
  risk_tier ENUM('LOW', 'MEDIUM', 'HIGH') NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (account_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS ref_merchants (
  merchant_id VARCHAR(64) NOT NULL,
  mcc CHAR(4) NOT NULL,
  country CHAR(2) NOT NULL,
  risk_tier ENUM('LOW', 'MEDIUM', 'HIGH') NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (merchant_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS ref_card_bins (
  bin VARCHAR(8) NOT NULL,
  issuing_country CHAR(2) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (bin)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Effective-dated: a transaction uses the latest rate valid at its event time, so replays convert
-- exactly as the live pass did. Rates are exact decimals, never floats.
CREATE TABLE IF NOT EXISTS ref_fx_rates (
  currency CHAR(3) NOT NULL,
  base_currency CHAR(3) NOT NULL,
  valid_from DATETIME(3) NOT NULL,
  rate DECIMAL(24, 10) NOT NULL,
  PRIMARY KEY (currency, base_currency, valid_from)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
