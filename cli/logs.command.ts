/** `txmon logs …`: what the logs say, as templates (issue 22). Needs no services. */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DRAIN } from '../ops/log-templates.ts';
import { type CliContext, int } from './context.ts';
import type { ClusterOptions } from './logs.actions.ts';

export function register(program: Command, ctx: CliContext): void {
  const logs = program.command('logs').description('Log analysis: log lines grouped into templates (Drain).');
  logs
    .command('cluster')
    .description(
      "Group log lines into templates with the Drain algorithm (ids, numbers, hex, IPs, UUIDs and times masked; a fixed-depth parse tree; a similarity threshold) and print, for each input line, its line number, template id and template, then a summary of the templates by lines. A JSON line's `msg` is clustered where it has one (txmon's own logs); any other line as it is. A gzip file is read as such (standard input is read as plain text). Needs no services.",
    )
    .argument('<file>', 'a log file (plain or gzip), or - for standard input (plain)')
    .option(
      '--json',
      'print one JSON object per input line { line, template_id, template } (line counted from 1), then { summary }',
    )
    .option('--summary', 'print the summary only, not a line per input line')
    .option('--top <n>', 'templates the summary lists, most lines first (default: all)', int('--top', 0))
    .option('--depth <n>', `levels of the parse tree, root and leaf included (default ${DEFAULT_DRAIN.depth})`, int('--depth', 3))
    .option(
      '--similarity <s>',
      `share of a template's tokens a line must equal to join it, in (0, 1] (default ${DEFAULT_DRAIN.similarity}, as ops-watch uses; 0.7–0.8 groups other programs' logs better: docs/log-analysis.md)`,
      similarity,
    )
    .option(
      '--max-children <n>',
      `children a tree node keeps before the rest share one (default ${DEFAULT_DRAIN.maxChildren})`,
      int('--max-children', 2),
    )
    .action(async (file: string, o: ClusterOptions) => {
      const { clusterLines, writeClusters } = await import('./logs.actions.ts');
      // A reader that stops early (`| head`) closes the pipe: that ends the output, not in an error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        process.exit(0);
      });
      const result = await clusterLines(file, o, { stdin: process.stdin, say: ctx.say });
      await writeClusters(result, o, process.stdout);
    });
}

function similarity(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('--similarity must be a number in (0, 1]');
  return n;
}
