/** `txmon schemas register`: every Avro contract under its topic subject. */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('schemas')
    .description('Avro contracts (schemas/*.avsc).')
    .command('register')
    .description('Register every schema under its topic subject (<topic>-value) with BACKWARD compatibility.')
    .action(async () => {
      const { cfg } = context();
      const { registerAll } = await import('../schemas/register.ts');
      await registerAll(cfg, say);
    });
}
