/** `txmon demo`: the whole card on simulated traffic, checked against its ground truth. */
import { type Command } from 'commander';
import { type CliContext, int } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { say } = ctx;
  program
    .command('demo')
    .description(
      'Start the services, reset the demo namespace (topics demo.*, database txmon_demo), simulate history, run the pipeline until drained and check it against the ground truth; reconcile the history against simulated settlement lines and check the report; then train a model on the history, decide a new day of traffic with rules and model, and show alerts, explanations and the evaluation.',
    )
    .option('--count <n>', 'transactions of history to simulate', int('--count', 1), 50_000)
    .option('--live <n>', 'transactions of the live day decided with the trained model', int('--live', 1), 20_000)
    .option('--seed <n>', 'random seed', int('--seed'), 42)
    .option(
      '--no-serve',
      'exit after the summary instead of serving the dashboard API (the default without a terminal, or with CI=true)',
    )
    .action(async (o: { count: number; seed: number; live: number; serve: boolean }) => {
      const { runDemo } = await import('./demo.actions.ts');
      const ok = await runDemo(process.env, o, say);
      if (!ok) process.exitCode = 1;
    });
}
