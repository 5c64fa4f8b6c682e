import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * A raw statement sent as a NAMED prepared statement (node-postgres's `name`): on each pooled
 * connection PostgreSQL parses it once, and a statement without parameters keeps its generic
 * plan until the table's statistics change. Used for the large set-based statements the
 * dispatcher and the idle loops run on every pass, whose planning cost far more of
 * PostgreSQL's CPU than executing them (docs/benchmarks.md, round five). A name stands for one
 * text: node-postgres refuses the same name with another text on a connection, so texts built
 * at run time must not vary.
 */
export function preparedRaw<T = unknown>(
  db: Knex | Knex.Transaction,
  name: string,
  sql: string,
  bindings: readonly Knex.RawBinding[] = [],
): Knex.Raw<T> {
  const known = texts.get(name);
  if (known === undefined) texts.set(name, sql);
  else if (known !== sql) throw new Error(`prepared statement ${name}: its text changed`);
  return db.raw<T>(sql, bindings).options({ name });
}

const texts = new Map<string, string>();

/**
 * A name for a statement whose text is built at run time from a few shapes (how many kernels,
 * events, outputs): one name per text, so each shape is parsed once per connection and may
 * keep a generic plan.
 */
export function statementName(prefix: string, sql: string): string {
  return `${prefix}-${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
}
