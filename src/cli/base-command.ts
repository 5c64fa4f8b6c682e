import { Command, Option, UsageError } from 'clipanion';
import { BaiError } from '../domain/errors.js';
import { parseTimeoutSeconds } from '../domain/starts-at.js';
import { ApiClient, ApiError, clientConfigFrom, NetworkError } from './client.js';
import { Output, stripAnsi } from './output.js';

/** The CLI's exit codes (Backend.AI's): 0 ok, 1 failure, 2 invalid usage, 3 timeout, 4 invalid argument; 130 after Ctrl-C, as shells count it. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  timeout: 3,
  invalidArgument: 4,
  interrupted: 130,
} as const;

/** Thrown by commands for a bad argument value (exit 4). */
export class InvalidArgument extends Error {}

/** Thrown when a wait runs out (exit 3). */
export class WaitTimeout extends Error {}

/**
 * Every command: typed output, a signed API client, and one place where errors become a
 * message and an exit code. Server errors show their problem+json title and message, never a
 * stack trace.
 */
export abstract class BaseCommand extends Command {
  endpoint = Option.String('--endpoint', {
    description: 'Manager URL (default: BACKEND_ENDPOINT or .bai/env)',
  });

  private outputCache: Output | null = null;

  get output(): Output {
    this.outputCache ??= new Output(this.context.stdout, this.context.stderr, this.context.env);
    return this.outputCache;
  }

  client(): ApiClient {
    return new ApiClient(clientConfigFrom(this.context.env, { endpoint: this.endpoint }), {
      onRetry: (n) =>
        this.context.stderr.write(
          `Retrying ${n.method} ${n.path} in ${(n.delayMs / 1000).toFixed(1)} s (${n.reason}; ${n.attempt} of ${n.of})\n`,
        ),
    });
  }

  /** A timeout as typed, for messages: "30 s" for a bare number, else as given ("5m"). */
  protected timeoutText(value: string | undefined): string {
    return value !== undefined && /^\d+(\.\d+)?$/.test(value) ? `${value} s` : String(value);
  }

  /** A `--timeout` value (seconds, or 30s, 5m, 2h) in milliseconds; a bad one exits 4. */
  protected timeoutMs(value: string | undefined, flag = '--timeout'): number | undefined {
    if (value === undefined) return undefined;
    try {
      return parseTimeoutSeconds(value, flag) * 1000;
    } catch (err) {
      throw new InvalidArgument((err as Error).message);
    }
  }

  /**
   * The wait limit of a waiting command: `--wait-timeout`, or `old.value` (`--timeout`) where that
   * was its old name (kept for one release, with `old.warning` written once on stderr after the
   * value parsed).
   */
  protected waitLimit(
    waitTimeout: string | undefined,
    old?: { value: string | undefined; warning: string },
  ): { ms: number | undefined; text: string } {
    const oldTimeout = old?.value;
    if (waitTimeout !== undefined && oldTimeout !== undefined)
      throw new UsageError('Give the wait limit once: --wait-timeout (--timeout is its old name here).');
    const value = waitTimeout ?? oldTimeout;
    const ms = this.timeoutMs(value, waitTimeout !== undefined ? '--wait-timeout' : '--timeout');
    if (old && oldTimeout !== undefined) this.context.stderr.write(`Warning: ${old.warning}\n`);
    return { ms, text: this.timeoutText(value) };
  }

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? EXIT.ok;
    } catch (err) {
      return this.fail(err);
    }
  }

  protected fail(err: unknown): number {
    const e = this.context.stderr;
    if (err instanceof UsageError) {
      e.write(`Usage Error: ${err.message}\n\n${stripAnsi(this.cli.usage(this, { detailed: false }))}`);
      return EXIT.usage;
    }
    if (err instanceof InvalidArgument) {
      e.write(`Error: ${err.message}\n`);
      return EXIT.invalidArgument;
    }
    if (err instanceof WaitTimeout) {
      e.write(`Timeout: ${err.message}\n`);
      return EXIT.timeout;
    }
    if (err instanceof ApiError) {
      const title = err.title.replace(/\.?$/, '.');
      const msg = err.message && err.message !== err.title ? ` ${err.message}` : '';
      e.write(`Error: ${title}${msg} (HTTP ${err.status} ${err.code})\n`);
      return EXIT.failure;
    }
    if (err instanceof NetworkError || err instanceof BaiError) {
      e.write(`Error: ${err.message}\n`);
      return EXIT.failure;
    }
    e.write(`Error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.failure;
  }
}
