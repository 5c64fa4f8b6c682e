import { PassThrough, Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import type { TestStack } from './stack.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

/** Runs `bai ARGS` in this process against a test stack, capturing its output streams. */
export async function bai(
  stack: TestStack,
  args: string[],
  opts: { tty?: boolean; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const stdout = new Capture(opts.tty ?? false);
  const stderr = new Capture(opts.tty ?? false);
  const env = {
    PATH: process.env.PATH,
    BACKEND_ENDPOINT: stack.manager.url,
    BACKEND_ACCESS_KEY: stack.database.admin.accessKey,
    BACKEND_SECRET_KEY: stack.database.admin.secretKey,
    BAI_STATE_DIR: `${stack.managerConfig.stateDir}/cli`,
    ...opts.env,
  };
  const code = await runCli(args, {
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env,
    colorDepth: opts.tty ? 8 : 1,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
