/**
 * What every command group's `register(program, ctx)` is given: where its lines go, and the config
 * and logger, loaded when a command runs (never at `--help`, so a bad setting fails the command that
 * needs it, naming the setting). Also the option parsers the groups share.
 */
import { InvalidArgumentError } from 'commander';
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
