/**
 * What every command group's `register(program, ctx)` is given: where its lines go, and the config
 * and logger, loaded when a command runs (never at `--help`, so a bad setting fails the command that
 * needs it, naming the setting). Also the option parsers the groups share.
 */
import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type TxmonConfig } from '../config/config.ts';
import { createLogger, type Logger } from '../platform/logger.ts';

/** A line for the person at the terminal (stderr: stdout is for a command's data, e.g. JSON). */
export const say = (line: string): void => void process.stderr.write(`${line}\n`);

export interface CliContext {
  say: (line: string) => void;
  /** Loads the config from the environment (a ConfigError names the setting) and the logger it sets. */
  context(): { cfg: TxmonConfig; logger: Logger };
}

export function cliContext(): CliContext {
  return {
    say,
    context: () => {
      const cfg = loadConfig(process.env);
      return {
        cfg,
        logger: createLogger({ level: cfg.log.level, pretty: cfg.log.pretty || Boolean(process.stderr.isTTY) }),
      };
    },
  };
}

/** An option parser: an integer of at least `min`, or an error naming the option. */
export const int =
  (name: string, min = 0) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };

/** An option parser: a number between 0 and 1, or an error naming the option. */
export const rate =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number between 0 and 1`);
    return n;
  };

/** What a promote or shadow command was given. */
export interface LifecycleOptions {
  actor?: string;
  reason?: string;
  strict?: boolean;
  check?: boolean;
  canary?: string;
}

/**
 * The `promote` and `shadow` commands of a registry's group (models, rule sets): each takes a
 * version, an actor and a reason for the audit log; promote also `--strict` and `--no-check` (the
 * backtest before it).
 */
export function lifecycleCommands(
  group: Command,
  entries: ReadonlyArray<readonly ['promote' | 'shadow', string]>,
  versionHelp: string,
  run: (action: 'promote' | 'shadow', version: string, o: LifecycleOptions) => Promise<void>,
): void {
  for (const [action, description] of entries) {
    const command = group
      .command(action)
      .description(`${description} Audited.`)
      .argument('<version>', versionHelp)
      .option('--actor <name>', 'who, for the audit log (default: the OS user)')
      .option('--reason <text>', 'why, for the audit log');
    if (action === 'promote')
      command
        .option('--strict', 'refuse the promotion when a segment’s alert rate moves by more than TXMON_FAIRNESS_FACTOR')
        .option('--no-check', 'promote without backtesting first')
        .option(
          '--canary <share>',
          'a staged rollout instead: decide with it for this share of accounts first (10%), then txmon rollout grow|complete|rollback; guardrails roll it back by themselves',
        );
    command.action((version: string, o: LifecycleOptions) => run(action, version, o));
  }
}

/** Who changed something, for the audit log: --actor, else the OS user name. */
export function actorName(given: string | undefined): string {
  if (given) return given;
  try {
    return `${userInfo().username}@cli`;
  } catch {
    return 'unknown@cli';
  }
}
