/**
 * Log templates by the Drain algorithm (He, Zhu, Zheng and Lyu, "Drain: An Online Log Parsing
 * Approach with Fixed Depth Tree", ICWS 2017), issue 22: each message is masked (ids, numbers, hex,
 * IPs, UUIDs, times become typed placeholders), split into tokens and routed down a tree of fixed
 * depth (its length, then its first tokens), where the leaf's templates are compared with it by the
 * share of equal tokens; the most similar at or above the threshold takes it (the positions that
 * differ become `<*>`), or it starts a template of its own. Online and pure: one pass, no I/O.
 *
 * No npm package implements Drain (the registry was searched for it): this is the paper's
 * algorithm with Drain3's defaults (depth 4, similarity 0.4, 100 children a node).
 */

export interface DrainOptions {
  /** Levels of the tree, root and leaf included: depth − 2 leading tokens route a message (≥ 3). */
  depth: number;
  /** The share of a template's tokens a message must equal to join it (0 < s ≤ 1). */
  similarity: number;
  /** Children a routing node keeps before further tokens share its `<*>` child (≥ 2). */
  maxChildren: number;
}

export const DEFAULT_DRAIN: Readonly<DrainOptions> = Object.freeze({ depth: 4, similarity: 0.4, maxChildren: 100 });

/** The placeholder of a position whose tokens differ between a template's messages. */
export const WILDCARD = '<*>';

export interface LogTemplate {
  /** 1, 2, … in order of first appearance; stable while the miner lives. */
  readonly id: number;
  /** The template's tokens: literal, a mask (`<NUM>`, `<ID>`, …) or `<*>`. */
  tokens: string[];
  /** Messages it took. */
  count: number;
}

interface RouteNode {
  children: Map<string, RouteNode>;
  templates: LogTemplate[];
}

const routeNode = (): RouteNode => ({ children: new Map(), templates: [] });

/** Masks whose text spans punctuation or whitespace, replaced before the message is split. */
const SPAN_MASKS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<UUID>'],
  [/\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b/g, '<TIME>'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g, '<IP>'],
  [/\b0x[0-9a-f]+\b/gi, '<HEX>'],
];

const NUMBER = /^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?$/i;
/** A number with a short unit: 250ms, 3.5s, 12%, 48KB, 2× (the unit is kept: it is part of the event). */
const NUMBER_UNIT = /^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)([a-zµ%×]{1,3})$/i;
const LEADING = /^[("'[{<]+/;
const TRAILING = /[)"'\]},;:.!?>]+$/;
const DIGIT = /\d/;

/** One whitespace-free token with its variable part masked: `partition=3,` → `partition=<NUM>,`. */
function maskToken(token: string): string {
  if (!DIGIT.test(token)) return token;
  const lead = LEADING.exec(token)?.[0] ?? '';
  const rest = token.slice(lead.length);
  const trail = TRAILING.exec(rest)?.[0] ?? '';
  const core = rest.slice(0, rest.length - trail.length);
  if (core === '' || isMask(core)) return token;
  const eq = core.indexOf('=');
  if (eq > 0 && eq < core.length - 1) return `${lead}${core.slice(0, eq + 1)}${maskToken(core.slice(eq + 1))}${trail}`;
  if (!DIGIT.test(core)) return token;
  if (NUMBER.test(core)) return `${lead}<NUM>${trail}`;
  const unit = NUMBER_UNIT.exec(core);
  if (unit !== null) return `${lead}<NUM>${unit[2]}${trail}`;
  return `${lead}<ID>${trail}`;
}

const isMask = (token: string): boolean => token.length > 2 && token.startsWith('<') && token.endsWith('>');

/** A message as Drain sees it: masked, split on whitespace. */
export function tokenize(message: string): string[] {
  let text = message;
  for (const [re, mask] of SPAN_MASKS) text = text.replace(re, mask);
  const out: string[] = [];
  for (const raw of text.split(/\s+/)) if (raw !== '') out.push(maskToken(raw));
  return out;
}

/**
 * The text to cluster of one log line: a JSON object's `msg` (pino, txmon's own logs) where it has
 * one, else the line itself (any other log).
 */
export function messageOf(line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('{') && trimmed.endsWith('}')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === 'object' && 'msg' in parsed) {
        const msg = (parsed as { msg: unknown }).msg;
        if (typeof msg === 'string') return msg;
      }
    } catch {
      // Not JSON after all (a line that only looks like an object): clustered as text.
    }
  }
  return line;
}

export function validateDrainOptions(o: DrainOptions): DrainOptions {
  if (!Number.isInteger(o.depth) || o.depth < 3) throw new RangeError(`depth must be an integer ≥ 3, got ${o.depth}`);
  if (!(o.similarity > 0 && o.similarity <= 1)) throw new RangeError(`similarity must be in (0, 1], got ${o.similarity}`);
  if (!Number.isInteger(o.maxChildren) || o.maxChildren < 2)
    throw new RangeError(`maxChildren must be an integer ≥ 2, got ${o.maxChildren}`);
  return o;
}

/** Drain's online miner: `add` each message in arrival order. */
export class LogTemplateMiner {
  private readonly opts: DrainOptions;
  private readonly byLength = new Map<number, RouteNode>();
  private readonly all: LogTemplate[] = [];

  constructor(opts: Partial<DrainOptions> = {}) {
    this.opts = validateDrainOptions({ ...DEFAULT_DRAIN, ...opts });
  }

  /** Adds one message; returns the template that took it (its tokens as updated by it). */
  add(message: string): LogTemplate {
    return this.addTokens(tokenize(message));
  }

  addTokens(tokens: string[]): LogTemplate {
    const leaf = this.leafFor(tokens);
    let best: LogTemplate | undefined;
    let bestSim = -1;
    let bestParams = -1;
    for (const t of leaf.templates) {
      const [sim, params] = similarity(t.tokens, tokens);
      if (sim > bestSim || (sim === bestSim && params > bestParams)) {
        best = t;
        bestSim = sim;
        bestParams = params;
      }
    }
    if (best !== undefined && bestSim >= this.opts.similarity) {
      for (let i = 0; i < tokens.length; i++) if (best.tokens[i] !== tokens[i]) best.tokens[i] = WILDCARD;
      best.count++;
      return best;
    }
    const created: LogTemplate = { id: this.all.length + 1, tokens: tokens.slice(), count: 1 };
    this.all.push(created);
    leaf.templates.push(created);
    return created;
  }

  /** Every template, in order of first appearance. */
  templates(): readonly LogTemplate[] {
    return this.all;
  }

  private leafFor(tokens: readonly string[]): RouteNode {
    let node: RouteNode | undefined = this.byLength.get(tokens.length);
    if (node === undefined) {
      node = routeNode();
      this.byLength.set(tokens.length, node);
    }
    const levels = Math.min(this.opts.depth - 2, tokens.length);
    for (let i = 0; i < levels; i++) {
      const token = tokens[i] as string;
      // A token with a digit or a mask is likely a parameter: it routes through the wildcard, so
      // messages that differ only there meet in one leaf (the paper's rule).
      const key = DIGIT.test(token) || isMask(token) ? WILDCARD : token;
      let next: RouteNode | undefined = node.children.get(key);
      if (next === undefined) {
        const room = node.children.size < this.opts.maxChildren - (node.children.has(WILDCARD) ? 0 : 1);
        const slot = room || key === WILDCARD ? key : WILDCARD;
        next = node.children.get(slot);
        if (next === undefined) {
          next = routeNode();
          node.children.set(slot, next);
        }
      }
      node = next;
    }
    return node;
  }
}

/** The share of positions where template and message hold the same literal, and the template's wildcards. */
function similarity(template: readonly string[], tokens: readonly string[]): [number, number] {
  if (tokens.length === 0) return [1, 0];
  let equal = 0;
  let params = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = template[i];
    if (t === WILDCARD) params++;
    else if (t === tokens[i]) equal++;
  }
  return [equal / tokens.length, params];
}

/** A template's text: its tokens joined by one space. */
export const templateText = (t: LogTemplate): string => t.tokens.join(' ');

/**
 * Grouping accuracy (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019):
 * the share of lines whose predicted group holds exactly the lines of their true group. Lines whose
 * truth is `undefined` are left out of both sides.
 */
export function groupingAccuracy(truth: ReadonlyArray<string | undefined>, predicted: readonly number[]): number {
  if (truth.length !== predicted.length) throw new RangeError('truth and predicted differ in length');
  const trueSize = new Map<string, number>();
  const byPredicted = new Map<number, Map<string, number>>();
  let labelled = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t === undefined) continue;
    labelled++;
    trueSize.set(t, (trueSize.get(t) ?? 0) + 1);
    const p = predicted[i] as number;
    let labels = byPredicted.get(p);
    if (labels === undefined) byPredicted.set(p, (labels = new Map()));
    labels.set(t, (labels.get(t) ?? 0) + 1);
  }
  if (labelled === 0) return 0;
  let correct = 0;
  for (const labels of byPredicted.values()) {
    if (labels.size !== 1) continue;
    const [label, n] = labels.entries().next().value as [string, number];
    if (trueSize.get(label) === n) correct += n;
  }
  return correct / labelled;
}
