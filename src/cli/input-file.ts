import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { InvalidArgument } from './base-command.js';

/**
 * The text of a "file or standard input" flag (a template's `-f`, `--bootstrap-script`): the
 * file, or standard input when none is given or it is "-" (as Backend.AI's CLI reads them). A
 * file that cannot be read is the user's argument (exit 4), named with `flag`; with `empty`, a
 * blank text is refused with that message.
 */
export async function readInputText(
  file: string | undefined,
  stdin: Readable,
  opts: { flag: string; empty?: string },
): Promise<string> {
  let text: string;
  if (file === undefined || file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Expected: a missing or unreadable file is the user's argument, not a crash.
      throw new InvalidArgument(`${opts.flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (opts.empty !== undefined && text.trim() === '') throw new InvalidArgument(opts.empty);
  return text;
}
