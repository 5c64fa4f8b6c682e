/** node-postgres's conversion of a bound value to the text it sends (not in @types/pg). */
declare module 'pg/lib/utils.js' {
  const utils: { prepareValue(value: unknown): string | Buffer | null };
  export default utils;
}
