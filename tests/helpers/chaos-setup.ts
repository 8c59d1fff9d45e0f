// The chaos tier's global setup: the integration tier's (services up, dist/ built, the broker
// warmed), and the three-broker cluster kept up between the tier's two files that use it
// (tests/e2e/kafka-cluster.e2e.test.ts, then the fault run: tests/helpers/sequencer.ts runs them
// last, in that order). Each file starts the cluster when it is not running; here, neither stops
// it: the tier's teardown does, when the cluster was not running before the tier (the machine is
// left as it was). A start and a stop fewer: ~15 s of every `npm test`.
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../config/config.ts';
import { clusterDown, clusterStatus } from '../../services/cluster.ts';
import setupServices from './global-setup.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The tier stops the cluster at its end (tests/helpers/chaos-setup.ts): a file leaves it up. */
    clusterStoppedByTier: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await setupServices();
  const cfg = loadConfig(process.env);
  // Any node up before the tier: the tier stops none of them (a partly running cluster is someone's).
  const wasRunning = (await clusterStatus(cfg)).some((s) => s.running);
  project.provide('clusterStoppedByTier', true);
  return async () => {
    if (!wasRunning && (await clusterStatus(cfg)).some((s) => s.running)) await clusterDown(cfg, () => {});
  };
}
