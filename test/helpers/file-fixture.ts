import type { TestFn } from 'ava';

/** A fixture's values while they are made: any of them may be missing yet. */
export type Filling<T> = { -readonly [K in keyof T]?: T[K] };

/**
 * What the tests of one file share: `make` fills it in a serial `test.before` (each value as
 * soon as it has it), `release` frees what was made in `test.after.always`, even when `make`
 * failed part-way. A value read before it was made throws, naming it.
 */
export function fileFixture<T extends object>(
  test: TestFn,
  make: (into: Filling<T>) => Promise<void>,
  release: (made: Filling<T>) => Promise<void>,
): Readonly<T> {
  const made: Filling<T> = {};
  // Serial: a file's own before hooks, registered after this one, wait for it (ava runs the
  // concurrent ones only once the serial ones before them are done).
  test.serial.before(() => make(made));
  test.after.always(() => release(made));
  return new Proxy(made, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (value === undefined) throw new Error(`${String(key)} is read before test.before made it`);
      return value;
    },
  }) as Readonly<T>;
}
