/**
 * Declarative rules: a versioned JSON rule set whose conditions are JSON Logic, compiled once into
 * synchronous functions by json-logic-engine. Pure: text in, a compiled rule set out; context in,
 * hits out. Loading and hot reload are in rules-source.ts.
 *
 * A rule set names its version; txmon appends the first 12 hex digits of the file's SHA-256, so an
 * edit without a version bump still shows up in every decision it made.
 */
import { createHash } from 'node:crypto';
import { LogicEngine } from 'json-logic-engine';
import { z } from 'zod';
import type { FeatureSource } from '../domain/snapshot.ts';
import { SlotMap } from './features.ts';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
/**
 * BLOCK and REVIEW decide by themselves; ALLOW (an allow list) overrides review; SCORE only adds its
 * weight to the risk, so a weak signal tips a borderline model score over without alerting alone.
 */
export type RuleAction = 'REVIEW' | 'BLOCK' | 'ALLOW' | 'SCORE';

/** Transaction fields a rule can read besides the feature snapshot. */
export const RULE_TX_FIELDS = Object.freeze([
  'amount_minor',
  'currency',
  'mcc',
  'channel',
  'type',
  'account_id',
  'merchant_id',
  'merchant_country',
  'ip_country',
  'device_id',
  'card_bin',
] as const);
export type RuleTxField = (typeof RULE_TX_FIELDS)[number];

const ruleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lower-case letters, digits, . _ -'),
  version: z.string().min(1),
  description: z.string().min(1),
  severity: z.enum(SEVERITIES),
  action: z.enum(['REVIEW', 'BLOCK', 'ALLOW', 'SCORE']),
  when: z.record(z.string(), z.unknown()),
  /** Shown to analysts; `{name}` is replaced by the context's value. */
  detail: z.string().optional(),
  /** Until this event time the rule is evaluated and recorded but does not decide. */
  snooze_until: z.iso.datetime({ offset: true }).optional(),
  enabled: z.boolean().default(true),
});

const ruleSetSchema = z.strictObject({
  ruleset: z.string().min(1),
  version: z.string().min(1),
  lists: z.record(z.string().regex(/^[a-z0-9_]+$/), z.array(z.string())).default({}),
  rules: z.array(ruleSchema).min(1),
});

export type RuleContext = Readonly<Record<string, unknown>>;

export interface CompiledRule {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly severity: Severity;
  readonly action: RuleAction;
  readonly snoozeUntil: number | null;
  readonly detail: string;
  readonly test: (ctx: RuleContext) => unknown;
}

export interface RuleSet {
  readonly name: string;
  /** `<declared version>@<sha256 prefix>`: stored with every decision. */
  readonly version: string;
  readonly rules: readonly CompiledRule[];
  readonly lists: Readonly<Record<string, readonly string[]>>;
  /**
   * The snapshot features the enabled rules read (their variables and detail placeholders), so the
   * context copies only those; absent or null: every feature (a rule names a variable computed at
   * run time).
   */
  readonly reads?: readonly string[] | null;
  /** The transaction fields (RULE_TX_FIELDS) the enabled rules read: a backtest names those MySQL does not store. */
  readonly readsTx?: readonly RuleTxField[];
}

export interface RuleHit {
  readonly ruleId: string;
  readonly ruleVersion: string;
  readonly severity: Severity;
  readonly action: RuleAction;
  readonly detail: string;
  /** Snoozed at this event time: recorded, not deciding. */
  readonly snoozed: boolean;
}

export class RuleSetError extends Error {
  override readonly name = 'RuleSetError';
}

/** Every `{"var": ...}` path in a JSON Logic tree. */
/** The literal variable names of a condition; `dynamic` is set when one is computed at run time. */
function varsOf(logic: unknown, out: string[] = [], dynamic = { found: false }): string[] {
  if (Array.isArray(logic)) for (const x of logic) varsOf(x, out, dynamic);
  else if (logic !== null && typeof logic === 'object') {
    for (const [op, arg] of Object.entries(logic)) {
      if (op === 'var') {
        const path = Array.isArray(arg) ? arg[0] : arg;
        if (typeof path === 'string') out.push(path);
        else {
          dynamic.found = true;
          varsOf(arg, out, dynamic);
        }
      } else varsOf(arg, out, dynamic);
    }
  }
  return out;
}

function render(template: string, ctx: RuleContext): string {
  return template.replace(/\{([a-z0-9_]+)\}/g, (_, name: string) => {
    const v = ctx[name];
    if (typeof v === 'number') return Number.isNaN(v) ? 'n/a' : String(Math.round(v * 100) / 100);
    return v === undefined || v === null ? 'n/a' : String(v);
  });
}

/**
 * Parses, validates and compiles a rule set. `featureNames` are the snapshot features a rule may
 * read; a rule reading anything else (a typo would read null forever) is refused, as are unknown
 * operators, repeated ids and `{name}` placeholders that name nothing.
 */
export function compileRuleSet(text: string, featureNames: readonly string[]): RuleSet {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RuleSetError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = ruleSetSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuleSetError(`${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const spec = parsed.data;
  const known = new Set<string>([...featureNames, ...RULE_TX_FIELDS, ...Object.keys(spec.lists).map((l) => `lists.${l}`)]);
  const engine = new LogicEngine();
  const seen = new Set<string>();
  const rules: CompiledRule[] = [];
  const features = new Set(featureNames);
  const reads = new Set<string>();
  const readsTx = new Set<RuleTxField>();
  const txFields = new Set<string>(RULE_TX_FIELDS);
  const dynamic = { found: false };
  for (const r of spec.rules) {
    if (seen.has(r.id)) throw new RuleSetError(`rule ${r.id}: the id repeats`);
    seen.add(r.id);
    const unknown = varsOf(r.when).filter((v) => !known.has(v));
    if (unknown.length > 0)
      throw new RuleSetError(`rule ${r.id}: unknown variable ${unknown.map((v) => JSON.stringify(v)).join(', ')}`);
    const detail = r.detail ?? r.description;
    const badPlaceholder = [...detail.matchAll(/\{([a-z0-9_]+)\}/g)].map((m) => m[1] as string).find((n) => !known.has(n));
    if (badPlaceholder !== undefined) throw new RuleSetError(`rule ${r.id}: detail names unknown {${badPlaceholder}}`);
    let test: (ctx: RuleContext) => unknown;
    try {
      test = engine.build(r.when) as (ctx: RuleContext) => unknown;
    } catch (err) {
      throw new RuleSetError(`rule ${r.id}: invalid condition: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
    }
    if (!r.enabled) continue;
    for (const v of [...varsOf(r.when, [], dynamic), ...[...detail.matchAll(/\{([a-z0-9_]+)\}/g)].map((m) => m[1] as string)])
      if (features.has(v)) reads.add(v);
      else if (txFields.has(v)) readsTx.add(v as RuleTxField);
    rules.push({
      id: r.id,
      version: r.version,
      description: r.description,
      severity: r.severity,
      action: r.action,
      snoozeUntil: r.snooze_until === undefined ? null : Date.parse(r.snooze_until),
      detail,
      test,
    });
  }
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return Object.freeze({
    name: spec.ruleset,
    version: `${spec.version}@${digest}`,
    rules,
    lists: spec.lists,
    reads: dynamic.found ? null : Object.freeze([...reads]),
    readsTx: Object.freeze([...readsTx]),
  });
}

/**
 * The context rules read: the snapshot with missing values as NaN (so a comparison with a missing
 * feature is false, where JSON Logic would read null as 0), the transaction's fields, and the lists.
 */
export function ruleContext(
  snapshot: FeatureSource,
  tx: Readonly<Record<RuleTxField, unknown>>,
  lists: RuleSet['lists'],
  reads?: RuleSet['reads'],
): RuleContext {
  const ctx: Record<string, unknown> = { lists };
  // Only the features the rules read, when known: copying all ~80 per transaction was the largest
  // cost of the rules on the ingest path.
  for (const k of reads ?? snapshot.names) {
    const v = snapshot.get(k);
    ctx[k] = v === null || v === undefined ? NaN : v;
  }
  for (const k of RULE_TX_FIELDS) ctx[k] = tx[k] ?? '';
  return ctx;
}

/**
 * A context object per rule set, overwritten for each transaction: every key written every time, in
 * one order, so it keeps one hidden class with fast properties. ruleContext's fresh object per
 * transaction (~25 keys added one by one, which sends V8 to dictionary mode) was ~3.8 KB a
 * transaction on the ingest path. Rule sets whose variables are only known at run time (`reads`
 * null) read every name the snapshot has, which need not be the same from one snapshot to the next:
 * they get ruleContext's fresh object.
 */
const reusedContexts = new WeakMap<RuleSet, ReusedContext | null>();

class ReusedContext {
  private readonly ctx: Record<string, unknown>;
  private readonly slots: SlotMap;

  constructor(
    lists: RuleSet['lists'],
    private readonly reads: readonly string[],
  ) {
    this.slots = new SlotMap(reads);
    // Object.fromEntries builds it with fast properties, where keyed stores of ~25 new keys do not.
    const keys: Array<[string, unknown]> = [['lists', lists]];
    for (const k of reads) keys.push([k, NaN]);
    for (const k of RULE_TX_FIELDS) keys.push([k, '']);
    this.ctx = Object.fromEntries(keys);
  }

  /** ruleContext(snapshot, tx, lists, reads), in the reused object. */
  fill(snapshot: FeatureSource, tx: Readonly<Record<RuleTxField, unknown>>): RuleContext {
    const ctx = this.ctx;
    const reads = this.reads;
    const slots = this.slots.of(snapshot);
    for (let i = 0; i < reads.length; i++) {
      const k = reads[i] as string;
      const v = slots === null ? snapshot.get(k) : snapshot.at?.(slots[i] as number);
      ctx[k] = v === null || v === undefined ? NaN : v;
    }
    for (let i = 0; i < RULE_TX_FIELDS.length; i++) {
      const k = RULE_TX_FIELDS[i] as RuleTxField;
      ctx[k] = tx[k] ?? '';
    }
    return ctx;
  }
}

/**
 * evaluateRules on the transaction's ruleContext, built in an object reused per rule set. The
 * context lives only for this call: compiled rules read it while they run and hit details are
 * rendered here, so nothing holds it when the next transaction overwrites it.
 */
export function evaluateTransaction(
  set: RuleSet,
  snapshot: FeatureSource,
  tx: Readonly<Record<RuleTxField, unknown>>,
  eventTime: number,
  errors?: { count: number },
): RuleHit[] {
  let reused = reusedContexts.get(set);
  if (reused === undefined) {
    reused = set.reads === null || set.reads === undefined ? null : new ReusedContext(set.lists, set.reads);
    reusedContexts.set(set, reused);
  }
  const ctx = reused === null ? ruleContext(snapshot, tx, set.lists, set.reads) : reused.fill(snapshot, tx);
  return evaluateRules(set, ctx, eventTime, errors);
}

/**
 * The rules that hold for a context, in rule-set order; `eventTime` decides snoozes. json-logic-engine
 * throws NaN when arithmetic or a comparison meets NaN (a missing feature, a division by zero): such a
 * rule does not hold. Anything else it throws is counted in `errors` and the rule does not hold.
 */
export function evaluateRules(set: RuleSet, ctx: RuleContext, eventTime: number, errors?: { count: number }): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const r of set.rules) {
    let holds: unknown;
    try {
      holds = r.test(ctx);
    } catch (err) {
      if (!(typeof err === 'number' && Number.isNaN(err)) && errors) errors.count++;
      continue;
    }
    if (!holds) continue;
    hits.push({
      ruleId: r.id,
      ruleVersion: r.version,
      severity: r.severity,
      action: r.action,
      detail: render(r.detail, ctx),
      snoozed: r.snoozeUntil !== null && eventTime < r.snoozeUntil,
    });
  }
  return hits;
}
