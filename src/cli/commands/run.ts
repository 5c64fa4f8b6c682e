import { Command, Option } from 'clipanion';
import { shellQuote } from '../../domain/container-plan.js';
import { JSON_OUTPUT_BYTES, OutputTail } from '../../domain/output-tail.js';
import { EXIT, WaitTimeout } from '../base-command.js';
import { followArray } from '../array-follow.js';
import { IDEMPOTENCY_KEY_OPTION, idempotencyHeaders, SessionOptionsCommand } from '../session-options.js';
import { exitCodeOf, waitForEnd } from '../session-wait.js';

export class RunCommand extends SessionOptionsCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    description: 'Run code in a new batch session, print its output, and exit with its exit code',
    details: `Creates (or reuses, with -t) a batch session that runs CODE with the image's interpreter, streams its output, and exits with the code's own exit code — unlike Backend.AI's CLI, which exits 0 even when the code failed.`,
    examples: [
      ['Say hello', `$0 run -c 'print("hello")' python`],
      ['Fail the shell when the code fails', `$0 run -c 'import sys; sys.exit(3)' python || echo "exit $?"`],
      [
        'Give up after 10 minutes (exit 3) and clean up',
        `$0 run --rm --wait-timeout 10m -c 'import time; time.sleep(3600)' python`,
      ],
      [
        'An array of 100 jobs, 10 at a time, each line prefixed by its index',
        `$0 run --array 0-99%10 -c 'import os; print(os.environ["BAI_ARRAY_INDEX"])' python`,
      ],
      [
        'Run at 9 in the morning with 2 CPUs',
        `$0 run --starts-at 2026-12-01T09:00:00+09:00 -r cpu=2 -c 'print(1)' python`,
      ],
    ],
  });

  image = Option.String({ name: 'IMAGE' });
  code = Option.String('-c,--code', {
    required: true,
    description: 'Code to run with the image interpreter',
  });
  rm = Option.Boolean('--rm', false, {
    description: 'Destroy the session when the command ends, also on a timeout or Ctrl-C',
  });
  waitTimeout = Option.String('--wait-timeout', {
    description: 'Give up waiting after this long (seconds, or 30s, 5m, 2h): exit 3',
  });
  timeout = Option.String('--timeout', {
    description: 'Old name of --wait-timeout (warns; will set the batch timeout, as on session create)',
  });
  json = Option.Boolean('--json', false, {
    description: 'Print the final session info (with its output) as one JSON document',
  });
  idempotencyKey = Option.String('--idempotency-key', IDEMPOTENCY_KEY_OPTION);

  async run(): Promise<number> {
    const client = this.client();
    const limit = this.waitLimit(this.waitTimeout, {
      value: this.timeout,
      warning:
        '--timeout on run is the old name of --wait-timeout (the wait limit); in a later release it will set the batch timeout, as on session create and in Backend.AI. Use --wait-timeout or --batch-timeout.',
    });
    const img = await client.request<{ labels: Record<string, string> }>(
      'GET',
      '/images/resolve',
      undefined,
      { ref: this.image },
    );
    const runtime = img.labels['ai.backend.runtime-path'] ?? 'python3';
    const body = this.createBody(this.image, `${runtime} -c ${shellQuote(this.code)}`, 'batch');
    body.enqueueOnly = true;
    const created = await client.request<{ sessionId: string; sessionName: string; status: string }>(
      'POST',
      '/session',
      body,
      undefined,
      idempotencyHeaders(this.idempotencyKey),
    );
    const owner = { owner_access_key: this.owner };
    // --json keeps the output's tail (as the server does), not all of it.
    const output = new OutputTail(JSON_OUTPUT_BYTES);
    let skipped = false;
    // Ctrl-C (or SIGTERM from a CI runner) ends the wait; with --rm the session goes too.
    const interrupt = new AbortController();
    const onSignal = () => interrupt.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let info;
    try {
      // An array: every child's output, prefixed `[index] `; the parent's exit code.
      if (this.array)
        info = await followArray(client, created.sessionId, {
          query: owner,
          write: this.json ? (text) => output.push(text) : (text) => void this.context.stdout.write(text),
          note: (note) => {
            skipped = true;
            this.context.stderr.write(note);
          },
          signal: interrupt.signal,
          timeoutMs: limit.ms,
        });
      else
        info = await waitForEnd(client, created.sessionId, this.output, {
          streamLogs: true,
          timeoutMs: limit.ms,
          query: owner,
          write: this.json ? (text) => output.push(text) : undefined,
          note: this.json
            ? (note) => {
                skipped = true;
                this.context.stderr.write(note);
              }
            : undefined,
          signal: interrupt.signal,
          known: created,
        });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (this.rm)
      await client
        .request('DELETE', `/session/${created.sessionId}`, undefined, owner)
        // Expected: the session may be gone already (removed elsewhere) or the manager away; --rm
        // is a best effort after the job's own outcome, which alone decides the exit code.
        .catch(() => {});
    if (interrupt.signal.aborted && !info) {
      this.context.stderr.write(
        this.rm
          ? `Interrupted: session ${created.sessionName} was destroyed (--rm).\n`
          : `Interrupted: session ${created.sessionName} goes on (bai session watch ${created.sessionName}; bai session rm ${created.sessionName}).\n`,
      );
      return EXIT.interrupted;
    }
    if (!info)
      throw new WaitTimeout(
        `session ${created.sessionName} did not end in ${limit.text}${this.rm ? '; it was destroyed (--rm)' : ''}.`,
      );
    if (this.json) {
      const truncated = skipped || output.truncated;
      this.output.json({ ...info, output: output.text(), ...(truncated ? { outputTruncated: true } : {}) });
    }
    const code = exitCodeOf(info);
    if (info.exitCode === null && code !== EXIT.ok) {
      // It never ran: say why, since there is no output to explain it.
      this.context.stderr.write(
        `Session ${info.sessionName} ended ${info.status} (${info.statusInfo ?? 'no reason'}).\n`,
      );
      const err = (info.statusData as { error?: string }).error;
      if (err) this.context.stderr.write(`${err}\n`);
    } else if (info.statusInfo === 'task-timeout') {
      this.context.stderr.write(`Session ${info.sessionName}: the batch timeout was reached.\n`);
    }
    return code;
  }
}
