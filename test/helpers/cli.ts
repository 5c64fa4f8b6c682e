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
  constructor(
    tty: boolean,
    private readonly onText?: (text: string) => void,
  ) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    const text = chunk.toString('utf8');
    this.text += text;
    this.onText?.(text);
    cb();
  }
}

export interface CliOptions {
  tty?: boolean;
  env?: Record<string, string>;
  /** Called with each piece of stdout as it is written (to see output arrive live). */
  onStdout?: (text: string) => void;
}

/** Runs `bai ARGS` in this process with exactly `env`, capturing its output streams. */
export async function baiWithEnv(
  env: Record<string, string | undefined>,
  args: string[],
  opts: Omit<CliOptions, 'env'> = {},
): Promise<CliResult> {
  const stdout = new Capture(opts.tty ?? false, opts.onStdout);
  const stderr = new Capture(opts.tty ?? false);
  const code = await runCli(args, {
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env,
    colorDepth: opts.tty ? 8 : 1,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs `bai ARGS` in this process against a test stack, capturing its output streams. */
export async function bai(stack: TestStack, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return baiWithEnv(
    {
      PATH: process.env.PATH,
      BACKEND_ENDPOINT: stack.manager.url,
      BACKEND_ACCESS_KEY: stack.database.admin.accessKey,
      BACKEND_SECRET_KEY: stack.database.admin.secretKey,
      BAI_STATE_DIR: `${stack.managerConfig.stateDir}/cli`,
      ...opts.env,
    },
    args,
    opts,
  );
}
