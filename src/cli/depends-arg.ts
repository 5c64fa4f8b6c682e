import { parseDependsArg } from '../domain/dependency-condition.js';
import { InvalidArgument } from './base-command.js';

/**
 * The `dependencies` of a create body from `--depends` values: `NAME` stays a plain id or
 * name (afterok), `afterany:NAME` and the like become `{session, condition}`. An unknown
 * condition is an invalid argument (exit 4) before anything is sent.
 */
export function dependsArgs(values: readonly string[] | undefined): unknown[] | undefined {
  if (values === undefined) return undefined;
  return values.map((v) => {
    let d: ReturnType<typeof parseDependsArg>;
    try {
      d = parseDependsArg(v);
    } catch (err) {
      // Expected: an unknown condition; the message names it and the accepted ones.
      throw new InvalidArgument((err as Error).message);
    }
    return v.includes(':') ? { session: d.session, condition: d.condition } : d.session;
  });
}
