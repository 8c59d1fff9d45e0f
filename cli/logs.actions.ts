/** `txmon logs cluster`'s work (issue 22): log lines into Drain templates, streamed in, two passes over ids. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzip } from '../platform/gzip-text.ts';
import { InputError } from '../platform/errors.ts';
import {
  DEFAULT_DRAIN,
  LogTemplateMiner,
  messageOf,
  templateText,
  type DrainOptions,
  type LogTemplate,
} from '../ops/log-templates.ts';

export interface ClusterOptions {
  json?: boolean;
  summary?: boolean;
  depth?: number;
  similarity?: number;
  maxChildren?: number;
  /** Templates the summary lists (most lines first); 0: all. */
  top?: number;
}

export interface ClusterResult {
  lines: number;
  /** Each input line's template id, in input order. */
  ids: Uint32Array;
  templates: readonly LogTemplate[];
  params: DrainOptions;
  elapsedMs: number;
}

/** A readable of the file's lines' bytes (`-`: stdin; gzip recognised by its magic bytes). */
async function openInput(file: string, stdin: Readable): Promise<Readable> {
  if (file === '-') return stdin;
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c as Buffer));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', (err) => reject(new InputError(`cannot read ${file}: ${err.message}`)));
  });
  const raw = createReadStream(file);
  return isGzip(head) ? raw.pipe(createGunzip()) : raw;
}

/** Reads every line, assigns each a template; progress on stderr every million lines. */
export async function clusterLines(
  file: string,
  o: ClusterOptions,
  io: { stdin: Readable; say: (line: string) => void },
): Promise<ClusterResult> {
  const params: DrainOptions = {
    depth: o.depth ?? DEFAULT_DRAIN.depth,
    similarity: o.similarity ?? DEFAULT_DRAIN.similarity,
    maxChildren: o.maxChildren ?? DEFAULT_DRAIN.maxChildren,
  };
  const miner = new LogTemplateMiner(params);
  const input = await openInput(file, io.stdin);
  let ids = new Uint32Array(1 << 16);
  let n = 0;
  const started = performance.now();
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (n === ids.length) {
        const grown = new Uint32Array(ids.length * 2);
        grown.set(ids);
        ids = grown;
      }
      ids[n++] = miner.add(messageOf(line)).id;
      if (n % 1_000_000 === 0) io.say(`logs: ${n.toLocaleString('en')} lines, ${miner.templates().length} templates ...`);
    }
  } catch (err) {
    throw new InputError(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as Error).message}`);
  }
  return { lines: n, ids: ids.subarray(0, n), templates: miner.templates(), params, elapsedMs: performance.now() - started };
}

/** The templates by lines taken, most first (ties: first seen first). */
export function rankedTemplates(templates: readonly LogTemplate[]): LogTemplate[] {
  return [...templates].sort((a, b) => b.count - a.count || a.id - b.id);
}

/** Writes the per-line output (unless `summary`) and the summary, honouring the stream's backpressure. */
export async function writeClusters(r: ClusterResult, o: ClusterOptions, out: Writable): Promise<void> {
  const texts = r.templates.map(templateText);
  let buf = '';
  const flush = async (): Promise<void> => {
    if (buf === '') return;
    const chunk = buf;
    buf = '';
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
  };
  if (o.summary !== true) {
    for (let i = 0; i < r.lines; i++) {
      const id = r.ids[i] as number;
      const text = texts[id - 1] as string;
      buf += o.json ? `${JSON.stringify({ line: i + 1, template_id: id, template: text })}\n` : `${i + 1}\t${id}\t${text}\n`;
      if (buf.length >= 1 << 16) await flush();
    }
  }
  const ranked = rankedTemplates(r.templates);
  const listed = o.top === undefined || o.top === 0 ? ranked : ranked.slice(0, o.top);
  if (o.json) {
    buf += `${JSON.stringify({
      summary: {
        lines: r.lines,
        templates: r.templates.length,
        params: r.params,
        top: listed.map((t) => ({ template_id: t.id, lines: t.count, template: texts[t.id - 1] })),
      },
    })}\n`;
  } else {
    if (o.summary !== true && r.lines > 0) buf += '\n';
    buf += `${r.lines.toLocaleString('en')} lines, ${r.templates.length.toLocaleString('en')} templates (Drain: depth ${r.params.depth}, similarity ${r.params.similarity}, ${r.params.maxChildren} children a node)${listed.length < ranked.length ? `; the ${listed.length} with most lines:` : ':'}\n`;
    const width = String(listed[0]?.count ?? 0).length;
    for (const t of listed) buf += `  #${t.id}\t${String(t.count).padStart(width)}  ${texts[t.id - 1]}\n`;
  }
  await flush();
}
