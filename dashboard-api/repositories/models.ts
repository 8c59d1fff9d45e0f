/** What the model routes read from MySQL besides the model registry (models/model-registry.ts). */
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../platform/mysql.ts';
import { FeatureDecoder } from '../../sinks/feature-vector.ts';

/** MariaDB stops the drift read past this (max_statement_time), whatever the sample. */
const DRIFT_QUERY_MAX_SECONDS = 10;

/** The active model's version, or null when none is active. */
export async function activeModelVersion(pool: Pool): Promise<string | null> {
  const [[row]] = await pool.query<RowDataPacket[]>("SELECT version FROM models WHERE state = 'active' LIMIT 1");
  return row ? String(row.version) : null;
}

/**
 * The `sample` most recent transactions scored by model `version`: each one's score and feature
 * snapshot (by ix_transactions_model_decided), newest first.
 */
export async function recentScores(
  pool: Pool,
  version: string,
  sample: number,
): Promise<Array<{ score: number; features: Record<string, unknown>; eventTime: Date }>> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SET STATEMENT max_statement_time = ${DRIFT_QUERY_MAX_SECONDS} FOR
     SELECT model_score, event_time, feature_layout, feature_values FROM transactions
      WHERE model_version = ? AND model_score IS NOT NULL ORDER BY decided_at DESC LIMIT ?`,
    [version, sample],
  );
  const features = await new FeatureDecoder(pool).decodeRows(rows);
  return rows.map((r, i) => ({
    score: Number(r.model_score),
    features: features[i]?.object() ?? {},
    eventTime: r.event_time as Date,
  }));
}
