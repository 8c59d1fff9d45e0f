import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError } from '../platform/errors.ts';
import { buildProgram } from './main.ts';
import { clusterLines, writeClusters, type ClusterOptions } from './logs.actions.ts';

const LINES = [
  '{"level":30,"time":1796586583551,"pid":6912,"msg":"reconcile: 120 records processed, 880 to go"}',
  'kernel: eth0 link up at 10.0.0.12',
  '{"level":30,"time":1796586583552,"pid":6912,"msg":"reconcile: 1,000 records processed, 0 to go"}',
  '{"level":40,"time":1796586583553,"pid":6912,"msg":"batch paused: redis: connect ECONNREFUSED 127.0.0.1:6379; retrying"}',
  'kernel: eth1 link up at 10.0.0.13',
];

function file(content: string | Buffer, name = 'app.log'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'txmon-logs-')), name);
  writeFileSync(path, content);
  return path;
}

async function run(path: string, o: ClusterOptions, stdin: Readable = Readable.from([])): Promise<string> {
  const said: string[] = [];
  const r = await clusterLines(path, o, { stdin, say: (l) => said.push(l) });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeClusters(r, o, out);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

describe('txmon logs cluster', () => {
  it('--json: one object per input line (line from 1, template id, template), then the summary', async () => {
    const out = (await run(file(`${LINES.join('\n')}\n`), { json: true }))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(out).toHaveLength(LINES.length + 1);
    const perLine = out.slice(0, LINES.length) as Array<{ line: number; template_id: number; template: string }>;
    expect(perLine.map((o) => o.line)).toEqual([1, 2, 3, 4, 5]);
    // Lines 1 and 3 (JSON, their msg) are one event, lines 2 and 5 (plain text) another.
    expect(perLine[0]?.template_id).toBe(perLine[2]?.template_id);
    expect(perLine[1]?.template_id).toBe(perLine[4]?.template_id);
    expect(new Set(perLine.map((o) => o.template_id)).size).toBe(3);
    // Each line carries its template's final text, not the text when the line was read.
    expect(perLine[0]?.template).toBe('reconcile: <NUM> records processed, <NUM> to go');
    expect(perLine[1]?.template).toBe('kernel: <ID> link up at <IP>');
    const summary = out[LINES.length].summary;
    expect(summary.lines).toBe(5);
    expect(summary.templates).toBe(3);
    expect(summary.top.map((t: { lines: number }) => t.lines)).toEqual([2, 2, 1]);
  });

  it('text: line, id and template separated by tabs, then the templates by lines; --summary and --top', async () => {
    const path = file(LINES.join('\n'));
    const text = (await run(path, {})).split('\n');
    expect(text[0]).toBe('1\t1\treconcile: <NUM> records processed, <NUM> to go');
    expect(text).toContain('5 lines, 3 templates (Drain: depth 4, similarity 0.4, 100 children a node):');
    const summaryOnly = await run(path, { summary: true, top: 1 });
    expect(summaryOnly.split('\n')[0]).toBe(
      '5 lines, 3 templates (Drain: depth 4, similarity 0.4, 100 children a node); the 1 with most lines:',
    );
    expect(summaryOnly.trimEnd().split('\n')).toHaveLength(2);
  });

  it('reads gzip files and standard input (-) alike', async () => {
    const plain = await run(file(LINES.join('\n')), { json: true });
    expect(await run(file(gzipSync(LINES.join('\n')), 'app.log.gz'), { json: true })).toBe(plain);
    expect(await run('-', { json: true }, Readable.from([LINES.join('\n')]))).toBe(plain);
  });

  it('a file it cannot read is a BAD_INPUT naming it', async () => {
    await expect(run('/nonexistent/app.log', {})).rejects.toThrow(InputError);
    await expect(run('/nonexistent/app.log', {})).rejects.toThrow(/cannot read \/nonexistent\/app.log/);
  });

  it('options outside their ranges are refused by the parser, naming the option', async () => {
    const program = buildProgram().exitOverride();
    program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => undefined });
    const cluster = program.commands.find((c) => c.name() === 'logs')?.commands.find((c) => c.name() === 'cluster');
    cluster?.exitOverride().configureOutput({ writeErr: () => undefined });
    await expect(program.parseAsync(['node', 'txmon', 'logs', 'cluster', 'x.log', '--similarity', '1.5'])).rejects.toThrow(
      /--similarity must be a number in \(0, 1\]/,
    );
    await expect(program.parseAsync(['node', 'txmon', 'logs', 'cluster', 'x.log', '--depth', '2'])).rejects.toThrow(
      /--depth must be an integer >= 3/,
    );
  });
});
