/** `txmon state rebuild|status`: the windowed state in Redis. */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const state = program.command('state').description('The windowed state in Redis (rebuilt from MySQL when lost).');
  state
    .command('rebuild')
    .description(
      "Rebuild this prefix's Redis state from MySQL's transactions of the longest window, as a new generation (processors wait meanwhile; the old one is deleted after).",
    )
    .action(async () => {
      const { cfg, logger } = context();
      const { stateRebuild } = await import('./state.actions.ts');
      process.exitCode = await stateRebuild(cfg, logger, say);
    });
  state
    .command('status')
    .description(
      'Whether the state markers are intact (exit code 1 when missing or of an older layout), how far each partition was applied, and whether Redis persists with AOF.',
    )
    .action(async () => {
      const { cfg } = context();
      const { stateStatus } = await import('./state.actions.ts');
      process.exitCode = await stateStatus(cfg, say);
    });
}
