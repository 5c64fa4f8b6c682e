import type { Knex } from 'knex';

/**
 * A raw statement sent as a NAMED prepared statement (node-postgres's `name`): on each pooled
 * connection PostgreSQL parses it once, and once its plan cache settles on a generic plan (at
 * once for a statement without parameters, after five executions otherwise) it is not planned
 * again. For the large set-based statements the dispatcher and the idle loops run on every
 * pass, planning cost 10–70 ms of PostgreSQL's CPU per call against well under a millisecond of
 * execution (docs/benchmarks.md, round five). A name stands for one text: node-postgres refuses
 * the same name with another text on a connection, so texts built at run time must not vary.
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

/**
 * preparedRaw in a transaction of its own that asks for the GENERIC plan
 * (`SET LOCAL plan_cache_mode = force_generic_plan`): a statement with parameters is otherwise
 * planned anew on every call whenever PostgreSQL judges its custom plans cheaper than the
 * generic one, as it does for the dispatcher's survey and runnable scan (their time bounds
 * select nothing in a custom plan). The setting ends with the transaction, so other statements
 * of the connection keep the default. For statements whose plan does not hinge on the values
 * bound (history-indexes.test.ts explains them generic too).
 */
export async function genericRaw<T = unknown>(
  db: Knex,
  name: string,
  sql: string,
  bindings: readonly Knex.RawBinding[] = [],
): Promise<T> {
  GENERIC_PLANS.add(name);
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL plan_cache_mode = force_generic_plan');
    return (await preparedRaw<T>(trx, name, sql, bindings)) as T;
  });
}

/** The names of the statements genericRaw runs with a generic plan (the tests' plan check). */
export const GENERIC_PLANS = new Set<string>();

const texts = new Map<string, string>();
