/** `txmon recon report`: what finance ops read each day — counts and amounts per status and currency, and the exceptions. */
import { writeFileSync } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import { formatMinor } from '../domain/currencies.ts';
import { parseIsoDate } from '../domain/settlement.ts';
import { InputError } from '../platform/errors.ts';
import { createPool } from '../platform/mysql.ts';
import { reconExceptions, reconReport, type ExceptionRow, type ReportLine } from '../sinks/recon-report.ts';
import { resolveException } from '../sinks/recon-resolve.ts';

const CSV_COLUMNS = [
  'reference',
  'status',
  'reason',
  'currency',
  'expected_minor',
  'settled_minor',
  'difference_minor',
  'transaction_ids',
  'settlement_ids',
  'business_date',
  'deadline',
  'exception_since',
  'revision',
  'resolution',
] as const;

/**
 * One CSV field, quoted when it must be (RFC 4180). Text a spreadsheet would run as a formula (a
 * reference starting with = + - @) gets a leading apostrophe; negative numbers stay as they are.
 */
export function csvField(v: string | null): string {
  const raw = v ?? '';
  const s = /^[=+\-@\t\r]/.test(raw) && !/^-\d+$/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The exceptions as CSV text (header + one line per reference). */
export function exceptionsCsv(rows: readonly ExceptionRow[]): string {
  const lines = rows.map((r) =>
    [
      r.reference,
      r.status,
      r.reason,
      r.currency,
      r.expectedMinor,
      r.settledMinor,
      r.expectedMinor === null ? null : (BigInt(r.settledMinor) - BigInt(r.expectedMinor)).toString(),
      r.transactionIds.join(' '),
      r.settlementIds.join(' '),
      r.businessDate,
      r.deadline,
      r.exceptionSince,
      String(r.revision),
      r.resolution,
    ]
      .map(csvField)
      .join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...lines].join('\r\n')}\r\n`;
}

/** The report as a fixed-width table, amounts in major units. */
export function formatReport(lines: readonly ReportLine[], date: string | null): string {
  const out = [`reconciliation ${date === null ? '(all business dates)' : `for ${date}`}`];
  out.push(
    `  ${'status'.padEnd(22)} ${'ccy'.padEnd(4)} ${'groups'.padStart(8)} ${'expected'.padStart(18)} ${'settled'.padStart(18)}`,
  );
  for (const l of lines)
    out.push(
      `  ${l.status.padEnd(22)} ${l.currency.padEnd(4)} ${l.groups.toLocaleString('en-US').padStart(8)} ${formatMinor(l.expectedMinor, l.currency).padStart(18)} ${formatMinor(l.settledMinor, l.currency).padStart(18)}`,
    );
  const byStatus = new Map<string, number>();
  for (const l of lines) byStatus.set(l.status, (byStatus.get(l.status) ?? 0) + l.groups);
  out.push(`  total by status: ${[...byStatus].map(([s, n]) => `${s} ${n.toLocaleString('en-US')}`).join(', ') || 'none'}`);
  return out.join('\n');
}

export async function runReconReport(
  cfg: TxmonConfig,
  o: { date?: string; exceptionsCsv?: string; json?: boolean },
  say: (line: string) => void,
): Promise<void> {
  if (o.date !== undefined && parseIsoDate(o.date) === null)
    throw new InputError(`--date must be a calendar date as YYYY-MM-DD (got ${JSON.stringify(o.date)})`);
  const date = o.date ?? null;
  const pool = createPool(cfg, { connectionLimit: 2 });
  try {
    const lines = await reconReport(pool, date);
    if (o.json) process.stdout.write(`${JSON.stringify({ date, lines }, null, 2)}\n`);
    else say(formatReport(lines, date));
    if (o.exceptionsCsv !== undefined) {
      const rows = await reconExceptions(pool, date);
      const csv = exceptionsCsv(rows);
      if (o.exceptionsCsv === '-') process.stdout.write(csv);
      else {
        writeFileSync(o.exceptionsCsv, csv);
        say(`recon: ${rows.length.toLocaleString('en-US')} exception(s) written to ${o.exceptionsCsv}`);
      }
    }
  } finally {
    await pool.end();
  }
}

export async function runReconResolve(
  cfg: TxmonConfig,
  reference: string,
  o: { as: 'resolved' | 'accepted'; actor: string; note?: string; revision?: number },
  say: (line: string) => void,
): Promise<void> {
  const pool = createPool(cfg, { connectionLimit: 1 });
  try {
    const r = await resolveException(
      pool,
      reference,
      o.as === 'resolved' ? 'RESOLVED' : 'ACCEPTED',
      o.actor,
      o.note ?? null,
      o.revision,
    );
    say(`recon: ${r.reference} (${r.status}, revision ${r.revision}) ${r.resolution} by ${r.actor}; recorded in the audit log`);
  } finally {
    await pool.end();
  }
}
