import * as t from 'typanion';
import { BaiError } from '../domain/errors.js';
import { parseEventScope } from '../domain/events.js';

/** A failed check of a flag's value, as typanion records one (clipanion quotes it). */
function refuse(state: t.ValidationState | undefined, message: string): false {
  state?.errors?.push(`${state.p ?? '.'}: ${message}`);
  return false;
}

/**
 * `--scope` as Backend.AI's CLI takes it (session, kernel, * or a comma list): what the server's
 * own parseEventScope accepts. A scope it refuses fails the flag's check, which the CLI answers
 * with exit 4 (a bad argument) before any request.
 */
export const isEventScope = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string') return refuse(state, `expected a string (got ${typeof value})`);
    try {
      parseEventScope(value);
      return true;
    } catch (err) {
      // Expected for a scope the server would refuse: its message names the value.
      if (err instanceof BaiError) return refuse(state, err.message);
      throw err;
    }
  },
});
