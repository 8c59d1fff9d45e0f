/** The check an API promotion runs first (models/candidate.ts), as the CLI's promote does. */
import { checkPromotion, strictRefusal, type CandidateSettings } from '../../models/candidate.ts';
import type { Pool } from '../../platform/mysql.ts';
import { HttpProblem } from '../plugins/errors.ts';

/**
 * Backtests what is promoted (unless `check` is false or the app has no settings for it) and
 * returns what it found; with `strict`, a flagged segment refuses the promotion with a 409.
 */
export async function checkFirst(
  pool: Pool,
  settings: CandidateSettings | undefined,
  promoting: { rules?: string; model?: string },
  body: { check?: boolean; strict?: boolean } | undefined,
): Promise<{ summary: string; flagged: string[] } | null> {
  if (settings === undefined || body?.check === false) return null;
  const check = await checkPromotion(pool, settings, promoting, () => {});
  if (body?.strict && check.flagged.length > 0) throw new HttpProblem(409, strictRefusal(check, 'strict').message);
  return { summary: check.summary, flagged: check.flagged };
}
