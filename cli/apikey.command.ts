/** `txmon apikey create|revoke|list`: API keys of the dashboard API. */
import { type Command, Option } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const apikey = program.command('apikey').description('API keys of the dashboard API (stored hashed; a key is shown once).');
  apikey
    .command('create')
    .description(
      'Create a key for a role and print it (once): analyst (alerts, triage, transactions, reconciliation), sre (health, metrics, models, reconciliation read), admin (everything, model changes).',
    )
    .requiredOption('--name <name>', 'who or what uses the key (shown in the audit log)')
    .addOption(new Option('--role <role>', 'its role').choices(['analyst', 'sre', 'admin']).makeOptionMandatory())
    .option('--created-by <name>', 'who creates it', process.env.USER ?? 'txmon')
    .action(async (o: { name: string; role: 'analyst' | 'sre' | 'admin'; createdBy: string }) => {
      const { cfg } = context();
      const { runApikeyCreate } = await import('./apikey.actions.ts');
      await runApikeyCreate(cfg, o, say);
    });
  apikey
    .command('revoke')
    .description('Revoke a key by its id (the 12 hex digits after txk_); effective within TXMON_API_KEY_CACHE_MS.')
    .argument('<key-id>', 'the key id')
    .option('--by <name>', 'who revokes it (audit log)', process.env.USER ?? 'txmon')
    .action(async (keyId: string, o: { by: string }) => {
      const { cfg } = context();
      const { runApikeyRevoke } = await import('./apikey.actions.ts');
      await runApikeyRevoke(cfg, keyId, o, say);
    });
  apikey
    .command('list')
    .description('Every key: id, name, role, created, revoked, last used (never a secret).')
    .action(async () => {
      const { cfg } = context();
      const { runApikeyList } = await import('./apikey.actions.ts');
      await runApikeyList(cfg, say);
    });
}
