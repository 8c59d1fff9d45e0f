import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { ConfigError } from '../../platform/errors.ts';
import { testLogger } from '../../tests/helpers/namespace.ts';
import { startOpsWatch } from './main.ts';

describe('txmon run ops-watch start-up', () => {
  it('refuses a target named api without TXMON_OPS_API_TOKEN before it connects to anything', async () => {
    const cfg = loadConfig({ TXMON_OPS_TARGETS: 'api=http://127.0.0.1:1/metrics', TXMON_KAFKA_BROKERS: '127.0.0.1:1' });
    const started = startOpsWatch(cfg, testLogger);
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/TXMON_OPS_API_TOKEN/);
  });
});
