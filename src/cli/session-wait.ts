import type { ApiClient } from './client.js';
import { followSessionEvents } from './event-stream.js';
import type { Output } from './output.js';

export interface SessionInfo {
  sessionId: string;
  sessionName: string;
  status: string;
  statusInfo: string | null;
  statusData: Record<string, unknown>;
  result: string;
  exitCode: number | null;
  kernels: { kernelId: string; clusterRole: string }[];
  [k: string]: unknown;
}

const FINAL = new Set(['TERMINATED', 'CANCELLED']);

/**
 * Waits for a session to end, showing a live progress line on a TTY, and optionally printing
 * its output as it comes. Resolves with its final info; rejects on timeout.
 */
export async function waitForEnd(
  client: ApiClient,
  sessionId: string,
  out: Output,
  opts: { timeoutMs?: number; streamLogs?: boolean } = {},
): Promise<SessionInfo | null> {
  const ctl = new AbortController();
  const timer = opts.timeoutMs ? setTimeout(() => ctl.abort(), opts.timeoutMs) : null;
  let printed = 0;
  let polling: NodeJS.Timeout | null = null;
  const printLogs = async () => {
    const r = await client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
    const logs = r.result.logs ?? '';
    if (logs.length > printed) {
      out.endProgress();
      out.out.write(logs.slice(printed));
      printed = logs.length;
    }
  };
  try {
    const info0 = await client.request<SessionInfo>('GET', `/session/${sessionId}`);
    if (!FINAL.has(info0.status)) {
      await new Promise<void>((resolve, reject) => {
        ctl.signal.addEventListener('abort', () => resolve());
        followSessionEvents(
          client,
          sessionId,
          'session',
          (ev) => {
            const status = String(ev.data.status ?? '');
            const pull = (ev.data as { pull?: { percent?: number } }).pull;
            out.progress(
              `${out.dim(sessionId.slice(0, 8))} ${status}${pull?.percent !== undefined ? ` ${pull.percent}%` : ''}`,
            );
            if (status === 'RUNNING' && opts.streamLogs && !polling) {
              polling = setInterval(() => printLogs().catch(() => {}), 300);
            }
            if (ev.event === 'session_terminated' || ev.event === 'session_cancelled') {
              resolve();
              return true;
            }
            return false;
          },
          ctl.signal,
        ).then(() => resolve(), reject);
      });
    }
    if (ctl.signal.aborted) return null;
    const info = await client.request<SessionInfo>('GET', `/session/${sessionId}`);
    if (!FINAL.has(info.status)) return null;
    if (opts.streamLogs) {
      if (polling) clearInterval(polling);
      await printLogs();
    }
    return info;
  } finally {
    out.endProgress();
    if (timer) clearTimeout(timer);
    if (polling) clearInterval(polling);
  }
}
