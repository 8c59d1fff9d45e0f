// The reconciliation page's CSV export: RFC 4180 fields, spreadsheet formulas neutralised, amounts
// exact in the currency's major unit.
import { majorUnits } from './money.ts';
import type { Exception } from './reconciliation.tsx';

/** One CSV field (RFC 4180), with a leading formula character neutralised for spreadsheets. */
export function csvField(value: string | number | null): string {
  let s = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function exceptionsCsv(rows: readonly Exception[]): string {
  const head = [
    'reference',
    'status',
    'reason',
    'currency',
    'expected',
    'settled',
    'transactions',
    'settlement_lines',
    'business_date',
    'deadline',
    'resolution',
    'resolved_by',
    'revision',
  ];
  const lines = rows.map((e) =>
    [
      e.reference,
      e.status,
      e.reason,
      e.currency,
      e.expected_minor === null ? null : majorUnits(e.expected_minor, e.currency),
      majorUnits(e.settled_minor, e.currency),
      e.transactions,
      e.settlement_lines,
      e.business_date,
      e.deadline,
      e.resolution,
      e.resolved_by,
      e.revision,
    ]
      .map(csvField)
      .join(','),
  );
  return `${[head.join(','), ...lines].join('\r\n')}\r\n`;
}
