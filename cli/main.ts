/**
 * The `txmon` command line: the program, one module per command group (`cli/<group>.command.ts`,
 * each exporting `register(program, ctx)`; their work loads only when a command runs), and the map
 * from error codes to exit codes.
 */
import { Command, InvalidArgumentError } from 'commander';
import { CONFIG_KEYS } from '../config/config.ts';
import { TxmonError, errorMessage, mysqlLoginRefused, mysqlUnknownDatabase } from '../platform/errors.ts';
import { register as servicesCommands } from './services.command.ts';
import { register as topicsCommands } from './topics.command.ts';
import { register as schemasCommands } from './schemas.command.ts';
import { register as migrateCommands } from './migrate.command.ts';
import { register as stateCommands } from './state.command.ts';
import { register as modelCommands } from './model.command.ts';
import { register as rulesCommands } from './rules.command.ts';
import { register as backtestCommands } from './backtest.command.ts';
import { register as rolloutCommands } from './rollout.command.ts';
import { register as refdataCommands } from './refdata.command.ts';
import { register as settlementsCommands } from './settlements.command.ts';
import { register as simulateCommands } from './simulate.command.ts';
import { register as runCommands } from './run.command.ts';
import { register as apikeyCommands } from './apikey.command.ts';
import { register as reconCommands } from './recon.command.ts';
import { register as demoCommands } from './demo.command.ts';
import { register as opsCommands } from './ops.command.ts';
import { register as logsCommands } from './logs.command.ts';
import { cliContext, say } from './context.ts';

/** Builds the program (exported for tests of --help). */
export function buildProgram(): Command {
  const program = new Command('txmon')
    .description('Streaming transaction monitoring: Kafka + Avro in, dedup, state, scoring, alerts, reconciliation, MySQL out.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration comes from environment variables (defaults are local):\n  ${CONFIG_KEYS.join('\n  ')}\nSee docs/configuration.md.`,
    );
  const ctx = cliContext();
  // In the order `txmon --help` lists them.
  for (const register of [
    servicesCommands,
    topicsCommands,
    schemasCommands,
    migrateCommands,
    stateCommands,
    modelCommands,
    rulesCommands,
    backtestCommands,
    rolloutCommands,
    refdataCommands,
    settlementsCommands,
    simulateCommands,
    runCommands,
    apikeyCommands,
    reconCommands,
    opsCommands,
    logsCommands,
    demoCommands,
  ])
    register(program, ctx);
  return program;
}

/** Runs the CLI; errors become one clear line and a non-zero exit code. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const refused = mysqlLoginRefused(err);
    const noDatabase = refused ? null : mysqlUnknownDatabase(err);
    if (noDatabase) {
      say(
        `txmon: CONFIG_INVALID: ${noDatabase.message}: create it and its tables with \`txmon migrate\`, or point TXMON_MYSQL_URL at the database txmon uses (the demo's is txmon_demo)`,
      );
      process.exitCode = 78;
    } else if (refused) {
      // A configuration error found at the first query rather than at start-up's validation.
      say(
        `txmon: CONFIG_INVALID: MySQL refused this login: check the user in TXMON_MYSQL_URL and its password (TXMON_MYSQL_PASSWORD, TXMON_MYSQL_PASSWORD_FILE or the URL), and its grants: ${refused.message}`,
      );
      process.exitCode = 78;
    } else if (err instanceof InvalidArgumentError) {
      // An option combination refused inside an action (commander reports its own parse errors itself).
      say(`txmon: BAD_INPUT: ${err.message}`);
      process.exitCode = 2;
    } else if (err instanceof TxmonError) {
      say(`txmon: ${err.code}: ${err.message}`);
      if (err.cause) say(`  cause: ${errorMessage(err.cause)}`);
      process.exitCode = err.code === 'CONFIG_INVALID' ? 78 : err.code === 'BAD_INPUT' ? 2 : 1;
    } else {
      say(`txmon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  }
}
