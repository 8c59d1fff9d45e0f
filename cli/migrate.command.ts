/** `txmon migrate`: the database, its migrations and the least-privilege users. */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('migrate')
    .description(
      'Create the database if needed, apply pending MySQL migrations, and create or update the least-privilege users ' +
        'whose passwords are set (TXMON_MYSQL_<ROLE>_PASSWORD[_FILE]); safe to re-run. Run it as an administrator.',
    )
    .action(async () => {
      const { cfg } = context();
      const { migrate } = await import('../platform/mysql.ts');
      const { ensureRoleUsers } = await import('../platform/mysql-users.ts');
      await migrate(cfg, say);
      const users = await ensureRoleUsers(cfg, say);
      if (users.length === 0)
        say('migrate: no TXMON_MYSQL_*_PASSWORD set, no least-privilege users created (see docs/operations.md)');
    });
}
