/** Topics, schemas and migrations of one deployment namespace: what `topics apply`, `schemas register` and `migrate` do, in one call. */
import type { TxmonConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { migrate } from '../platform/mysql.ts';
import { registerAll } from '../schemas/register.ts';
import { applyTopics } from '../topics/apply.ts';

export async function prepareNamespace(cfg: TxmonConfig, logger: Logger, log: (line: string) => void = () => {}): Promise<void> {
  const admin = createKafka(cfg, logger).admin();
  await admin.connect();
  try {
    await applyTopics(admin, cfg.topicNamespace, log, cfg.topicReplication);
  } finally {
    await admin.disconnect();
  }
  await registerAll(cfg, log);
  await migrate(cfg, log);
}
