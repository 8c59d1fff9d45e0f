import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, main } from './main.ts';

function leaves(cmd: Command, path: string[] = []): Array<[string, Command]> {
  const out: Array<[string, Command]> = [[path.join(' ') || 'txmon', cmd]];
  for (const sub of cmd.commands) out.push(...leaves(sub, [...path, sub.name()]));
  return out;
}

describe('txmon CLI', () => {
  it('has every subcommand the foundation asks for, each with help text', () => {
    const all = leaves(buildProgram());
    const names = all.map(([n]) => n);
    for (const want of [
      'services up',
      'services down',
      'services status',
      'services logs',
      'topics apply',
      'schemas register',
      'migrate',
      'simulate',
      'run',
      'demo',
    ]) {
      expect(names).toContain(want);
    }
    for (const [name, cmd] of all) {
      expect(cmd.description(), `${name} has a description`).not.toBe('');
      expect(cmd.helpInformation()).toContain('--help');
    }
  });

  it('rejects bad option values with a clear message', async () => {
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }));
    await expect(program.parseAsync(['node', 'txmon', 'simulate', '--duplicate-rate', '2'])).rejects.toThrow(
      /--duplicate-rate must be a number between 0 and 1/,
    );
    await expect(program.parseAsync(['node', 'txmon', 'run', 'nope'])).rejects.toThrow(/Allowed choices are ingest/);
  });

  it('an option refused inside a command is one line on stderr and exit code 2, not a stack', async () => {
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      await main(['node', 'txmon', 'run', 'ops-watch', '--drain']);
    } finally {
      process.stderr.write = write;
    }
    expect(said).toEqual(['txmon: BAD_INPUT: --drain is for the Kafka processors, not ops-watch\n']);
    expect(process.exitCode).toBe(2);
    process.exitCode = 0;
  });
});
