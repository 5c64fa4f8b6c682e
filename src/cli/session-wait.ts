import { EXIT } from './base-command.js';
import type { ApiClient } from './client.js';
import { followSessionEvents } from './event-stream.js';
import { LogFollower } from './log-follower.js';
import type { Output } from './output.js';
import { setLongTimeout } from '../workers/long-timer.js';
import type { SessionWire } from '../domain/session-wire.js';

const FINAL = new Set(['TERMINATED', 'CANCELLED']);
/** How long one read of live output may block in the manager (it ends early when output comes). */
const LOG_WAIT_MS = 10_000;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * The exit code a waiting command passes on: 0 on success, the job's own code on failure,
 * 3 (timeout) when the batch timeout killed it, 1 when it never ran or the code is not one a
 * shell can carry.
 */
export function exitCodeOf(s: {
  status?: string;
  result?: string;
  statusInfo?: string | null;
  exitCode?: number | null;
}): number {
  if (s.result === 'SUCCESS') return EXIT.ok;
  if (s.statusInfo === 'task-timeout' || s.exitCode === -2) return EXIT.timeout;
  const code = s.exitCode ?? null;
  if (code !== null && code > 0 && code < 256) return code;
  if (s.status === 'TERMINATED' && s.result !== 'FAILURE' && (code === 0 || code === null)) return EXIT.ok;
  return EXIT.failure;
}

/**
 * Waits for a session to end. On a TTY a live progress line shows the way there
 * (PENDING → SCHEDULED → PULLING 43% → RUNNING); elsewhere nothing but the output. With
 * `streamLogs` the job's output is printed as it comes (see LogFollower). Resolves with the
 * final info, or null when `timeoutMs` ran out first.
 */
export async function waitForEnd(
  client: ApiClient,
  sessionId: string,
  out: Output,
  opts: {
    timeoutMs?: number;
    streamLogs?: boolean;
    query?: Record<string, string | undefined>;
    /** Where the job's output goes (default: stdout). */
    write?: (text: string) => void | Promise<void>;
    /** Where notes on output not shown go (default: stderr). */
    note?: (text: string) => void;
    /** Stops waiting (resolves null), as a timeout does. */
    signal?: AbortSignal;
    /** What the caller already knows (a create answer): saves the first request. */
    known?: { sessionName: string; status: string };
  } = {},
): Promise<SessionWire | null> {
  const ctl = new AbortController();
  const onOuterAbort = () => ctl.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = opts.timeoutMs ? setLongTimeout(() => ctl.abort(), opts.timeoutMs) : null;
  const progress = new ProgressLine(out);
  let progressName = opts.known?.sessionName ?? sessionId;
  const write = opts.write ?? ((text: string) => writeOut(out.out, text));
  const logs = opts.streamLogs
    ? new LogFollower(
        client,
        sessionId,
        (text) => {
          // Output means it runs, whether or not the RUNNING report has landed yet.
          progress.set(progressName, 'RUNNING');
          progress.stop();
          return write(text);
        },
        opts.query,
        (note) => {
          progress.stop();
          if (opts.note) opts.note(note);
          else out.err.write(note);
        },
        LOG_WAIT_MS,
      )
    : null;
  let logLoop: Promise<void> | null = null;
  const ended = new AbortController();
  ctl.signal.addEventListener('abort', () => ended.abort(), { once: true });
  const startLogs = () => {
    if (!logs || logLoop) return;
    logLoop = (async () => {
      // One follow stream: the manager sends the output as the agent copies it (push). Follow
      // on at once after a stream the manager ended early (it drains); pace after a failure
      // (from the same cursor) or when the kernel ended (its end event is near).
      while (!ended.signal.aborted) {
        if (!(await logs.follow(ended.signal))) await sleep(200, ended.signal);
      }
    })();
  };
  let pullPoll: NodeJS.Timeout | null = null;
  try {
    const info0 =
      opts.known ??
      (await client.request<SessionWire>('GET', `/session/${sessionId}`, undefined, opts.query));
    progressName = info0.sessionName;
    if (!FINAL.has(info0.status)) {
      progress.set(info0.sessionName, info0.status);
      // Output is read from the start, not from the RUNNING report: that report can land
      // seconds after the container started printing (a busy manager), the output cannot wait.
      startLogs();
      await new Promise<void>((resolve, reject) => {
        ctl.signal.addEventListener('abort', () => resolve());
        followSessionEvents(
          client,
          sessionId,
          'session',
          (ev) => {
            const status = String(ev.data.status ?? '');
            if (status) progress.set(info0.sessionName, status);
            if (status === 'PULLING' && !pullPoll && out.progressTty) {
              // Pull figures change without a transition: read them while pulling.
              pullPoll = setInterval(() => {
                client
                  .request<SessionWire>('GET', `/session/${sessionId}`, undefined, opts.query)
                  .then((s) => {
                    const pull = (s.statusData as { pull?: { percent?: number } }).pull;
                    if (s.status !== 'PULLING' && pullPoll) clearInterval(pullPoll);
                    else if (pull?.percent !== undefined)
                      progress.set(info0.sessionName, 'PULLING', `${pull.percent}%`);
                  })
                  // Expected: a failed read of pull figures only leaves the line as it was;
                  // the next tick asks again and the event stream carries the wait.
                  .catch(() => {});
              }, 500);
            }
            if (ev.event === 'session_terminated' || ev.event === 'session_cancelled') {
              resolve();
              return true;
            }
            return false;
          },
          ctl.signal,
          opts.query?.owner_access_key,
        ).then(() => resolve(), reject);
      });
    }
    if (pullPoll) clearInterval(pullPoll);
    if (ctl.signal.aborted) return null;
    const info = await client.request<SessionWire>('GET', `/session/${sessionId}`, undefined, opts.query);
    if (!FINAL.has(info.status)) return null;
    ended.abort();
    if (logLoop) await logLoop;
    progress.stop();
    if (logs) await logs.finish();
    return info;
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    ended.abort();
    progress.stop();
    if (pullPoll) clearInterval(pullPoll);
    timer?.clear();
  }
}

/** Waits `ms` or until `signal` aborts; leaves no listener on the signal either way. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(); // an aborted signal never fires 'abort' again
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Writes to a stream, waiting for it to drain when it is full: the output is not held here. */
function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> | void {
  if (stream.write(text)) return;
  return new Promise((resolve) => stream.once('drain', () => resolve()));
}

/**
 * The line that rewrites itself on a TTY: name, the statuses passed so far, a spinner and the
 * time waited. Nothing at all when the output is not a terminal. Once the job's output starts
 * it stops for good, so it never cuts through a line of output.
 */
class ProgressLine {
  private trail: string[] = [];
  private name = '';
  private detail = '';
  private frame = 0;
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly out: Output) {}

  set(name: string, status: string, detail = ''): void {
    if (this.stopped || !this.out.progressTty) return;
    this.name = name;
    if (this.trail.at(-1) !== status) {
      if (this.trail.includes(status)) return; // a late answer about a status already left
      this.trail.push(status);
    }
    this.detail = detail;
    this.timer ??= setInterval(() => this.draw(), 120);
    this.draw();
  }

  private draw(): void {
    if (this.stopped) return;
    const o = this.out;
    const spin = SPINNER[this.frame++ % SPINNER.length]!;
    const secs = Math.round((Date.now() - this.t0) / 1000);
    const trail = this.trail.map((s, i) => (i === this.trail.length - 1 ? o.bold(s) : o.dim(s))).join(' → ');
    o.progress(
      `${spin} ${this.name}  ${trail}${this.detail ? ` ${this.detail}` : ''}  ${o.dim(`${secs} s`)}`,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.stopped && this.trail.length > 0) this.out.endProgress();
    this.stopped = true;
  }
}
