import { Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand, EXIT, WaitTimeout } from './base-command.js';
import { dependsArgs } from './depends-arg.js';
import { keyValues, mountArgs, resourceArgs } from './key-values.js';
import { exitCodeOf, waitForEnd } from './session-wait.js';

/** The headers of a create request with `--idempotency-key KEY` (none without it). */
export function idempotencyHeaders(key: string | undefined): Record<string, string> {
  if (key === undefined) return {};
  // A header carries printable ASCII; the manager checks the rest (empty, too long).
  if (!/^[\x20-\x7e]*$/.test(key))
    throw new UsageError(
      '--idempotency-key must be printable ASCII (it is sent as the Idempotency-Key header).',
    );
  return { 'Idempotency-Key': key };
}

/** `--idempotency-key` of `session create` and `run`. */
export const IDEMPOTENCY_KEY_OPTION = {
  description:
    'Create at most one session for KEY (per keypair, for the retention, default 7 days): a repeat answers that session; the create is retried on 503 or a refused connection',
};

/**
 * The flags of a session's create body that every command making sessions shares (`session
 * create`, `run`, `schedule create`), named as Backend.AI's CLI names them: everything but the
 * session's name, start time, dependencies and array, which a schedule sets per run.
 */
export abstract class SessionBodyCommand extends BaseCommand {
  env = Option.Array('-e,--env', { description: 'Environment variable KEY=VALUE (repeat)' });
  mount = Option.Array('-m,--mount,-v,--volume', {
    description: 'Mount a storage folder NAME[=PATH][:ro] (repeat)',
  });
  resources = Option.Array('-r,--resources', {
    description: 'Resource slot, e.g. cpu=2, mem=4g; mem without a unit is MiB (repeat)',
  });
  resourceOpts = Option.Array('--resource-opts', { description: 'Resource option, e.g. shmem=64m' });
  scalingGroup = Option.String('--scaling-group,--sgroup', { description: 'Scaling group' });
  startDeadline = Option.String('--start-deadline', {
    description: 'Cancel it if not started this long after --starts-at or submit (10m, 1h, seconds)',
  });
  callbackUrl = Option.String('--callback-url', { description: 'POST lifecycle events to this URL' });
  priority = Option.String('--priority', {
    description: 'Priority 0-100 (default 10)',
    validator: t.isNumber(),
  });
  clusterSize = Option.String('--cluster-size', {
    description: 'Number of containers',
    validator: t.isNumber(),
  });
  clusterMode = Option.String('--cluster-mode', { description: 'single-node or multi-node' });
  tag = Option.String('--tag', { description: 'A free-form tag' });
  owner = Option.String('-o,--owner,--owner-access-key', { description: 'Act for this access key (admins)' });
  domain = Option.String('-d,--domain', { description: 'Domain' });
  group = Option.String('-g,--group', { description: 'Project group' });
  retries = Option.String('--retries', {
    description: 'Attempts in all, when a retry cause happens (default 1)',
    validator: t.isNumber(),
  });
  retryOn = Option.Array('--retry-on', {
    description: 'agent-lost, image-pull-failed, non-zero-exit (repeat)',
  });
  retryBackoff = Option.String('--retry-backoff', { description: 'fixed or exponential' });
  retryDelay = Option.String('--retry-delay', { description: 'First retry delay (5s, 1m)' });
  retryOnExit = Option.String('--retry-on-exit', {
    description: 'Retry a non-zero exit only with these codes (137,143); implies non-zero-exit',
  });
  retryMaxDelay = Option.String('--retry-max-delay', { description: 'Longest retry delay (5m)' });
  batchTimeout = Option.String('--batch-timeout', {
    description: 'Kill the job after this long (30m, 2h, seconds)',
  });

  /** The batch timeout the command's flags ask for (the create commands take --timeout too). */
  protected batchTimeoutValue(): string | undefined {
    return this.batchTimeout;
  }

  /**
   * The create body of the shared flags (no name, start time, dependencies or array); an image or
   * type left undefined is the server's (or template's) to choose.
   */
  protected sessionBody(
    image: string | undefined,
    startupCommand: string | undefined,
    type: 'batch' | 'interactive' | undefined,
  ): Record<string, unknown> {
    const { mounts, mountMap, mountOptions } = mountArgs(this.mount);
    const retry =
      this.retries !== undefined || this.retryOn || this.retryOnExit
        ? {
            max_attempts: this.retries ?? 2,
            on: this.retryOn,
            backoff: this.retryBackoff,
            delay: this.retryDelay,
            on_exit_codes: this.retryOnExit?.split(',').map((c) => c.trim()),
            max_delay: this.retryMaxDelay,
          }
        : undefined;
    return {
      image,
      type,
      startupCommand,
      batch_timeout: this.batchTimeoutValue(),
      start_deadline: this.startDeadline,
      callback_url: this.callbackUrl,
      priority: this.priority,
      clusterSize: this.clusterSize,
      clusterMode: this.clusterMode,
      tag: this.tag,
      owner_access_key: this.owner,
      domain: this.domain,
      group: this.group,
      retry,
      config: {
        environ: keyValues(this.env, '-e'),
        mounts,
        mount_map: mountMap,
        ...(Object.keys(mountOptions).length > 0 ? { mount_options: mountOptions } : {}),
        resources: resourceArgs(this.resources),
        resource_opts: keyValues(this.resourceOpts, '--resource-opts'),
        scalingGroup: this.scalingGroup,
      },
    };
  }
}

/** Flags shared by `session create` and `run`: the body's, and the session's own name, start and array. */
export abstract class SessionOptionsCommand extends SessionBodyCommand {
  name = Option.String('-t,--name,--client-token', {
    description: 'Session name (4-64 chars); reused if live',
  });
  startsAt = Option.String('--starts-at', {
    description: 'Start at an ISO-8601 time or after a relative time (10min, 1h30m)',
  });
  depends = Option.Array('--depends', {
    description:
      'Run after this session (id or name) succeeds; afterany:NAME after it ends, afternotok:NAME after it fails (repeat)',
  });
  array = Option.String('--array', {
    description:
      'An array job: A-B or A-B%P (at most P at once), e.g. 0-99%10; child i gets BAI_ARRAY_INDEX=i',
  });

  /** The create body of the flags; an image or type left undefined is the server's (or template's) to choose. */
  protected createBody(
    image: string | undefined,
    startupCommand: string | undefined,
    type: 'batch' | 'interactive' | undefined,
  ): Record<string, unknown> {
    return {
      ...this.sessionBody(image, startupCommand, type),
      name: this.name,
      starts_at: this.startsAt,
      dependencies: dependsArgs(this.depends),
      array: this.array,
    };
  }
}

/**
 * `session create` and `session create-from-template`: the flags of a create request and of its
 * wait, and the submit that sends it.
 */
export abstract class SessionSubmitCommand extends SessionOptionsCommand {
  enqueueOnly = Option.Boolean('--enqueue-only', false, { description: 'Answer at once with PENDING' });
  maxWait = Option.String('--max-wait', {
    validator: t.isNumber(),
    description: 'Seconds the server waits for RUNNING',
  });
  noReuse = Option.Boolean('--no-reuse', false, { description: 'Fail if a live session has this name' });
  wait = Option.Boolean('--wait', false, { description: 'Wait until it ends; exit with its exit code' });
  timeout = Option.String('--timeout', {
    description: 'The batch timeout, as in Backend.AI (same as --batch-timeout)',
  });
  waitTimeout = Option.String('--wait-timeout', {
    description: 'With --wait: give up waiting after this long (exit 3)',
  });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  protected override batchTimeoutValue(): string | undefined {
    if (this.timeout !== undefined && this.batchTimeout !== undefined && this.timeout !== this.batchTimeout)
      throw new UsageError('--timeout and --batch-timeout are one option (the batch timeout): give it once.');
    return this.batchTimeout ?? this.timeout;
  }

  /**
   * Sends a create body to `path` (`/session`, `/session/_/create-from-template`) with the
   * flags' enqueue, wait and reuse fields. Without --wait, prints the answer (exit 3 when the
   * server's own wait ran out); with it, follows the session to its end and returns its exit code.
   * `headers`: extra request headers (an Idempotency-Key).
   */
  protected async submit(
    path: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<number> {
    const limit = this.waitLimit(this.waitTimeout);
    body.enqueueOnly = this.enqueueOnly || this.wait || this.maxWait === undefined;
    if (this.maxWait !== undefined) body.maxWaitSeconds = this.maxWait;
    body.reuseIfExists = !this.noReuse;
    const client = this.client();
    const res = await client.request<{
      sessionId: string;
      sessionName: string;
      status: string;
      created: boolean;
    }>('POST', path, body, undefined, headers);
    if (!this.wait) {
      if (this.json) this.output.json(res);
      else
        this.output.line(
          `Session ${res.sessionName} (${res.sessionId}) ${res.created ? 'created' : 'reused'}: ${this.output.status(res.status)}`,
        );
      return res.status === 'TIMEOUT' ? EXIT.timeout : EXIT.ok;
    }
    const info = await waitForEnd(client, res.sessionId, this.output, {
      timeoutMs: limit.ms,
      query: { owner_access_key: this.owner },
      known: res,
    });
    if (!info) throw new WaitTimeout(`session ${res.sessionName} did not end in ${limit.text}.`);
    if (this.json) this.output.json(info);
    else
      this.output.line(
        `Session ${info.sessionName} ${this.output.status(info.status)} (${info.statusInfo ?? '-'}) exit=${info.exitCode ?? '-'}`,
      );
    return exitCodeOf(info);
  }
}
