import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { QueryResult, QueryResultRow } from 'pg';

/** What a statement's rows are, as node-postgres returns them (what knex's raw returned). */
export type PreparedResult<R extends QueryResultRow = QueryResultRow> = QueryResult<R>;

/**
 * A raw statement sent as a NAMED prepared statement (node-postgres's `name`): on each pooled
 * connection PostgreSQL parses it once, and a statement without parameters keeps its generic
 * plan until the table's statistics change. Used for the large set-based statements the
 * dispatcher and the idle loops run on every pass, whose planning cost far more of
 * PostgreSQL's CPU than executing them (docs/benchmarks.md, round five). A name stands for one
 * text: node-postgres refuses the same name with another text on a connection, so texts built
 * at run time must not vary.
 *
 * The statement goes to node-postgres directly, on a connection of knex's pool (or the
 * transaction's own connection when `db` is a transaction): knex's builder, runner and
 * formatting cost the manager more CPU than the rest of the call (their garbage too: round
 * ten), and bring nothing to a text that is fixed per name. Its `?` placeholders (knex raw's)
 * are turned into `$n` once per name. The values go to node-postgres as knex passed them
 * (Dates, arrays and objects are converted by node-postgres, as before); knex's `query`
 * event is still emitted (tests capture the hot statements through it) and a failed
 * statement's message still starts with its text.
 */
export async function preparedRaw<R extends QueryResultRow = QueryResultRow>(
  db: Knex | Knex.Transaction,
  name: string,
  sql: string,
  bindings: readonly Knex.RawBinding[] = [],
): Promise<PreparedResult<R>> {
  const statement = statementOf(name, sql);
  checkBindings(statement, bindings);
  const client = (db as { client: PoolClient }).client;
  if (db.isTransaction && (db as Knex.Transaction).isCompleted())
    throw new Error('Transaction query already complete, run with DEBUG=knex:tx for more info');
  const conn = (await acquire(client, sql, bindings)) as PgConnection;
  try {
    client.emit('query', {
      __knexUid: conn.__knexUid,
      __knexTxId: conn.__knexTxId,
      method: 'raw',
      sql: statement.text,
      bindings,
      options: { name },
    });
    return await conn.query<R>({ name, text: statement.text, values: bindings as unknown[] });
  } catch (err) {
    // As knex's message for a failed statement: its text first (logs say which one failed).
    if (err instanceof Error) err.message = `${statement.text} - ${err.message}`;
    throw err;
  } finally {
    await client.releaseConnection(conn);
  }
}

/**
 * The rows of a statement built at run time from a few shapes (`{ sql, bindings }`), named
 * after its text under `prefix` (statementName): what the exits' and the phases' one-statement
 * moves read back.
 */
export async function preparedRows<R extends QueryResultRow>(
  db: Knex | Knex.Transaction,
  prefix: string,
  statement: { sql: string; bindings: readonly unknown[] },
): Promise<R[]> {
  const { sql, bindings } = statement;
  const { rows } = await preparedRaw<R>(db, statementName(prefix, sql), sql, bindings as Knex.RawBinding[]);
  return rows;
}

/** What preparedRaw needs of knex's client (a transaction's keeps handing out its connection). */
interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
  emit(event: 'query', obj: unknown): boolean;
}

/** A node-postgres client as knex's pool holds it. */
interface PgConnection {
  __knexUid?: string;
  __knexTxId?: string;
  query<R extends QueryResultRow>(q: {
    name: string;
    text: string;
    values: unknown[];
  }): Promise<QueryResult<R>>;
}

/** A connection of the pool; a timeout carries the statement, as knex's runner does. */
async function acquire(client: PoolClient, sql: string, bindings: readonly unknown[]): Promise<unknown> {
  try {
    return await client.acquireConnection();
  } catch (err) {
    if (err instanceof Error && err.name === 'KnexTimeoutError') Object.assign(err, { sql, bindings });
    throw err;
  }
}

/** A statement's text for node-postgres, and how many values it takes. */
interface Statement {
  sql: string;
  text: string;
  count: number;
}

const statements = new Map<string, Statement>();

function statementOf(name: string, sql: string): Statement {
  const known = statements.get(name);
  if (known !== undefined) {
    if (known.sql !== sql) throw new Error(`prepared statement ${name}: its text changed`);
    return known;
  }
  const s = { sql, ...positional(sql) };
  statements.set(name, s);
  return s;
}

/** Knex refused an undefined value or a count that differs from the placeholders': so here. */
function checkBindings(s: Statement, bindings: readonly unknown[]): void {
  if (bindings.length !== s.count) throw new Error(`Expected ${bindings.length} bindings, saw ${s.count}`);
  for (let i = 0; i < bindings.length; i++) {
    if (bindings[i] === undefined)
      throw new Error(`Undefined binding(s) detected for keys [${i}] when compiling RAW query: ${s.sql}`);
  }
}

/**
 * A knex raw text with `?` placeholders as PostgreSQL's `$1, $2, …`, as knex's raw and its
 * pg client turn it (replaceRawArrBindings, then positionBindings): `\?` stands for a literal
 * `?` (jsonb's operator). `??` (an identifier bound at run time) is refused: a name stands for
 * one text, and that text would change with the value.
 */
export function positional(sql: string): { text: string; count: number } {
  const marked = sql.replace(/\\?\?\??/g, (m) => {
    if (m === '\\?') return m;
    if (m === '??') throw new Error('prepared statements take no ?? (identifier) bindings');
    return '?';
  });
  let count = 0;
  const text = marked.replace(/(\\*)(\?)/g, (_m, escapes: string) =>
    escapes.length % 2 ? '?' : `$${++count}`,
  );
  return { text, count };
}

/**
 * A name for a statement whose text is built at run time from a few shapes (how many kernels,
 * events, outputs): one name per text, so each shape is parsed once per connection and may
 * keep a generic plan.
 */
export function statementName(prefix: string, sql: string): string {
  return `${prefix}-${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
}
