/**
 * The processors' log lines as ops-watch series (issue 22): each scrape round's new lines are mined
 * into Drain templates (ops/log-templates.ts) and counted per template, one rate series a template
 * (`logs:rate(txmon_log_template_lines{template="<id>"})`, lines per second) that the engine's
 * detectors score like any counter's rate, so a template whose rate spikes is flagged and joins the
 * incident of its window. A template first seen after the warm-up is flagged at once as **new**
 * (a kind of event the processors had not logged while ops-watch has been watching). Pure: the
 * processor reads the files (processors/ops-watch/log-files.ts) and hands over their lines.
 */
import type { FlaggedSeries } from './incidents.ts';
import { LogTemplateMiner, messageOf, templateText, type DrainOptions } from './log-templates.ts';
import type { RoundPoint } from './watch.ts';

/** The series' metric name (lines per second of one template). */
export const LOG_TEMPLATE_METRIC = 'txmon_log_template_lines';
/** The target the series belong to. */
export const LOG_TARGET = 'logs';

export interface LogWatchParams {
  /** The scrape interval: a round's count over it is the rate. */
  readonly scrapeMs: number;
  /** Templates first seen within this long of the first round (and at it) are the baseline's, not new. */
  readonly warmupMs: number;
  /** Templates given a series of their own; those beyond share `template="other"` (a runaway log). */
  readonly maxTemplates: number;
  readonly drain?: Partial<DrainOptions>;
}

export interface LogRound {
  /** One point per template seen so far (0 where it logged nothing this round), and the target's `up`. */
  readonly points: RoundPoint[];
  /** Templates first seen this round after the warm-up: flagged as new. */
  readonly fresh: FlaggedSeries[];
  readonly lines: number;
}

/** The series key of a template (`other`: beyond maxTemplates). */
export const templateKey = (id: number | 'other'): string => `${LOG_TARGET}:rate(${LOG_TEMPLATE_METRIC}{template="${id}"})`;

/** Characters of a template's text an alert carries. */
export const TEMPLATE_TEXT_MAX = 512;

const KEY = /^logs:rate\(txmon_log_template_lines\{template="(\d+)"\}\)$/;

export class LogTemplateWatch {
  private readonly miner: LogTemplateMiner;
  private startedAt: number | null = null;
  /** Templates with a series, by id (the rest count as `other`). */
  private readonly tracked = new Set<number>();
  private otherSeen = false;
  /** Series of templates flagged as new, and the round they were first seen in. */
  private readonly born = new Map<string, number>();

  constructor(private readonly params: LogWatchParams) {
    if (!(params.scrapeMs > 0) || !(params.warmupMs >= 0) || !(params.maxTemplates >= 1))
      throw new RangeError('scrapeMs must be positive, warmupMs at least 0 and maxTemplates at least 1');
    this.miner = new LogTemplateMiner(params.drain);
  }

  /** One round's new lines at `time`; `readable`: whether every log file could be read. */
  round(time: number, lines: readonly string[], readable = true): LogRound {
    this.startedAt ??= time;
    const counts = new Map<number | 'other', number>();
    const fresh: FlaggedSeries[] = [];
    // Never at the first round: with nothing before it, every template would be new.
    const warm = time > this.startedAt && time - this.startedAt >= this.params.warmupMs;
    for (const line of lines) {
      if (line.trim() === '') continue;
      const before = this.miner.templates().length;
      const t = this.miner.add(messageOf(line));
      let id: number | 'other' = t.id;
      if (t.id > before) {
        // A template born this line.
        if (this.tracked.size < this.params.maxTemplates) this.tracked.add(t.id);
        else id = 'other';
      } else if (!this.tracked.has(t.id)) id = 'other';
      if (id === 'other') this.otherSeen = true;
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (t.id > before && warm && id !== 'other') {
        fresh.push({ key: templateKey(t.id), startedAt: time, value: 0, baseline: 0, score: 0 });
        this.born.set(templateKey(t.id), time);
      }
    }
    const perSecond = 1_000 / this.params.scrapeMs;
    const points: RoundPoint[] = [
      { target: LOG_TARGET, key: `${LOG_TARGET}:up`, name: 'up', as: 'gauge', value: readable ? 1 : 0 },
    ];
    const ids: Array<number | 'other'> = [...this.tracked];
    if (this.otherSeen) ids.push('other');
    for (const id of ids)
      points.push({
        target: LOG_TARGET,
        key: templateKey(id),
        name: LOG_TEMPLATE_METRIC,
        as: 'rate',
        value: (counts.get(id) ?? 0) * perSecond,
      });
    // A new template's flag carries its first round's rate (its count is what made it).
    for (let i = 0; i < fresh.length; i++) {
      const f = fresh[i] as FlaggedSeries;
      const id = Number(KEY.exec(f.key)?.[1]);
      fresh[i] = { ...f, value: (counts.get(id) ?? 0) * perSecond };
    }
    return { points, fresh, lines: lines.length };
  }

  /**
   * Whether the series' run that began at `startedAt` is its template's first appearance (after the
   * warm-up): true in the incident it was new in, false when the same template spikes later.
   */
  isNew(key: string, startedAt: number): boolean {
    return this.born.get(key) === startedAt;
  }

  /** The text of the template behind a series key (at most 512 characters), or undefined for any other series. */
  templateOf(key: string): string | undefined {
    if (key === templateKey('other')) return `(templates beyond the first ${this.params.maxTemplates})`;
    const m = KEY.exec(key);
    if (m === null) return undefined;
    const t = this.miner.templates()[Number(m[1]) - 1];
    if (t === undefined) return undefined;
    const text = templateText(t);
    // An alert carries it to Kafka and MySQL: a template of a huge line must not make the alert too big to publish.
    return text.length > TEMPLATE_TEXT_MAX ? `${text.slice(0, TEMPLATE_TEXT_MAX - 1)}…` : text;
  }
}
