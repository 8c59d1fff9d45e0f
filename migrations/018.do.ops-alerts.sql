-- ops-watch's alerts (issue 21): an incident of anomalous series on txmon's own metrics, or a
-- forecast SLO breach; one row per alert, at its latest revision (each revision is also a record on
-- txmon.ops-alerts.v1). Written by the ops role, read by the API (GET /api/v1/ops/alerts).
CREATE TABLE IF NOT EXISTS ops_alerts (
  alert_id VARCHAR(64) NOT NULL,
  revision INT NOT NULL,
  kind ENUM('ANOMALY', 'SLO_FORECAST') NOT NULL,
  status ENUM('OPEN', 'CLOSED') NOT NULL,
  opened_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  closed_at DATETIME(3) NULL,
  first_mover VARCHAR(512) NOT NULL,
  summary VARCHAR(1024) NOT NULL,
  -- [{ series, started_at, value, baseline, score }] and { series, limit, value, expected_at, earliest_at, latest_at }
  evidence JSON NOT NULL,
  forecast JSON NULL,
  PRIMARY KEY (alert_id),
  -- reader: GET /api/v1/ops/alerts (newest first, optionally by status)
  KEY ix_ops_alerts_opened (opened_at, alert_id),
  KEY ix_ops_alerts_status (status, opened_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
