/** SQL literals the sinks send as they are, to spare escaping. */

/**
 * JSON text as a SQL string literal. txmon's JSON (feature snapshots, rule hits, explanations) holds
 * names, numbers, null, booleans and short texts, so it rarely holds a character a single-quoted
 * literal must escape (a quote, a backslash, NUL); then it goes in as is, which spares escaping
 * kilobytes per row (the sinks' largest CPU cost). Anything else is escaped as usual.
 */
export function jsonLiteral(json: string): string | { toSqlString(): string } {
  return /['\\\0]/.test(json) ? json : { toSqlString: () => `'${json}'` };
}
