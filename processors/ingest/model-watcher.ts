/**
 * The models a processor scores with: the registry's active and shadow models, re-read whenever the
 * registry revision moves (a promotion, shadow or rollback takes effect within one poll interval,
 * without a restart). A model that fails to load (bad checksum) is logged and the previous ones stay.
 */
import { DriftMonitor } from '../../detection/drift-monitor.ts';
import type { Models } from '../../detection/decision-record.ts';
import { ModelScorer } from '../../detection/score.ts';
import type { Logger } from '../../platform/logger.ts';
import { PollLoop } from '../../platform/poll-loop.ts';
import type { Pool } from '../../platform/mysql.ts';
import { loadServingModels, registryRevision } from '../../models/model-registry.ts';

export class ModelWatcher {
  private models: Models = { active: null, shadow: null };
  private drift: DriftMonitor | null = null;
  private revision = -1;
  private readonly loop = new PollLoop(() => this.refresh());

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly onChange: (models: Models) => void = () => {},
  ) {}

  /** The models in force. */
  get current(): Models {
    return this.models;
  }

  /** Drift of live traffic against the active model's training baseline. */
  get driftMonitor(): DriftMonitor | null {
    return this.drift;
  }

  /** Reloads the models if the registry moved; throws when MySQL cannot be read. */
  async refresh(): Promise<void> {
    const revision = await registryRevision(this.pool);
    if (revision === this.revision) return;
    const loaded = await loadServingModels(this.pool);
    const next: Models = {
      active: loaded.active === null ? null : new ModelScorer(loaded.active),
      shadow: loaded.shadow === null ? null : new ModelScorer(loaded.shadow),
    };
    const before = { active: this.models.active?.model.version ?? null, shadow: this.models.shadow?.model.version ?? null };
    const after = { active: next.active?.model.version ?? null, shadow: next.shadow?.model.version ?? null };
    this.models = next;
    this.revision = revision;
    if (after.active !== before.active)
      this.drift =
        loaded.active === null ? null : new DriftMonitor(loaded.active.version, loaded.active.features, loaded.active.baseline);
    if (after.active !== before.active || after.shadow !== before.shadow) {
      this.logger.info({ revision, before, after }, 'models changed');
      this.onChange(next);
    }
  }

  /** Polls the registry every `intervalMs`; a failed poll goes to `failed` and the current models stay. */
  start(intervalMs: number, failed: (err: unknown) => void): void {
    this.loop.start(intervalMs, failed);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
