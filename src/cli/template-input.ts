import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { InvalidArgument } from './base-command.js';

/** A template's text: from `-f FILE`, else from standard input (as Backend.AI's CLI reads it). */
export async function templateText(file: string | undefined, stdin: Readable): Promise<string> {
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Expected: a missing or unreadable file is the user's argument, not a crash.
      throw new InvalidArgument(`Cannot read ${file}: ${(err as Error).message}`);
    }
  } else {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (text.trim() === '') throw new InvalidArgument('The template is empty (give -f FILE or pipe it in).');
  return text;
}
