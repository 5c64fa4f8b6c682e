import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
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

/** The environment `bai` reads to reach a test stack as its admin. */
function stackEnv(stack: TestStack): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    BACKEND_ENDPOINT: stack.manager.url,
    BACKEND_ACCESS_KEY: stack.database.admin.accessKey,
    BACKEND_SECRET_KEY: stack.database.admin.secretKey,
    BAI_STATE_DIR: `${stack.managerConfig.stateDir}/cli`,
  };
}

/** Runs `bai ARGS` in this process against a test stack, capturing its output streams. */
export async function bai(stack: TestStack, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return baiWithEnv({ ...stackEnv(stack), ...opts.env }, args, opts);
}

/** `bai ARGS` as a child process against a test stack; its output so far, and its exit. */
export interface BaiChild {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** What it printed so far (updated before any listener the test adds to the child's streams). */
  output: { stdout: string; stderr: string };
  /** Its exit code once it exits (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Starts `bai ARGS` as a real process against a test stack: for what only a process shows
 * (signals, Node's own warnings on its stderr, a follower killed outright).
 */
export function spawnBai(stack: TestStack, args: string[]): BaiChild {
  const bin = fileURLToPath(new URL('../../../bin/bai.js', import.meta.url));
  const child = spawn(process.execPath, [bin, ...args], {
    env: stackEnv(stack),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (b: Buffer) => (output.stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output.stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}
