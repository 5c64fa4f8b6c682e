import { appendFileSync } from 'node:fs';

/**
 * Module loader hooks (run on the loader's thread, registered by module-trace.ts): appends the URL
 * of every module the process loads through the ESM loader to the trace file, as it loads.
 */
let out = '';

export function initialize(data: { out: string }): void {
  out = data.out;
}

export async function load(
  url: string,
  context: unknown,
  next: (url: string, context: unknown) => Promise<unknown>,
): Promise<unknown> {
  const result = await next(url, context);
  appendFileSync(out, `${url}\n`);
  return result;
}
