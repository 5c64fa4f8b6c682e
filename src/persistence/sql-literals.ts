/**
 * SQL literals for values the code itself holds (statuses, wait reasons, event names), written
 * into statement texts so that a generic plan still sees them. Never for user input: that is
 * always bound.
 */

/** A string as an SQL literal, its quotes doubled. */
export const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Strings as a comma-separated list of SQL literals (for `IN (…)`). */
export const sqlList = (xs: readonly string[]) => xs.map(sqlText).join(', ');
