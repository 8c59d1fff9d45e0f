/**
 * The rule set a processor decides with: read at start-up (a bad file stops the start, naming
 * TXMON_RULES_FILE), then re-read whenever the file changes. A bad edit is logged and counted and the
 * previous rules stay in force, so a typo never stops detection.
 */
import { readFileSync, statSync } from 'node:fs';
import { compileRuleSet, type RuleSet } from '../../detection/rules.ts';
import { ConfigError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';

/** Reads and compiles a rule file (throws RuleSetError on a bad one, fs errors on an unreadable one). */
export function readRuleSet(file: string, featureNames: readonly string[]): RuleSet {
  return compileRuleSet(readFileSync(file, 'utf8'), featureNames);
}

export interface RulesSourceEvents {
  reloaded(set: RuleSet): void;
  failed(err: Error): void;
}

export class RulesSource {
  private set: RuleSet;
  private stamp: string;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly file: string,
    private readonly featureNames: readonly string[],
    private readonly logger: Logger,
    private readonly events: Partial<RulesSourceEvents> = {},
  ) {
    try {
      this.stamp = this.fileStamp();
      this.set = readRuleSet(file, featureNames);
    } catch (err) {
      throw new ConfigError(`invalid configuration: TXMON_RULES_FILE=${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  }

  /** The rules in force. */
  get current(): RuleSet {
    return this.set;
  }

  private fileStamp(): string {
    const st = statSync(this.file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  }

  /** Re-reads the file if it changed; returns whether new rules took effect. */
  check(): boolean {
    let stamp: string;
    try {
      stamp = this.fileStamp();
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    try {
      const next = readRuleSet(this.file, this.featureNames);
      if (next.version === this.set.version) return false;
      this.logger.info({ from: this.set.version, to: next.version, rules: next.rules.length }, 'rule set reloaded');
      this.set = next;
      this.events.reloaded?.(next);
      return true;
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
  }

  private fail(err: Error): void {
    this.logger.error(
      { file: this.file, version: this.set.version },
      `rule file not reloaded, the previous rules stay: ${err.message}`,
    );
    this.events.failed?.(err);
  }

  /** Checks the file every `intervalMs`. */
  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
