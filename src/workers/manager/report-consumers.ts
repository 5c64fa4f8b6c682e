import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { heartbeatPattern, reportStreamKey } from '../../queue/names.js';
import type { Report } from '../../queue/payloads.js';
import {
  isNoGroup,
  parseEntry,
  parseReadReply,
  REPORTS_GROUP,
  retryDelayMs,
  type MalformedEntry,
  type ReportEntry,
} from '../../queue/report-entry.js';
import { ackReports, ensureReportsGroup, pruneIdleConsumers } from '../../queue/report-stream.js';
import type { Logger } from '../../log/logger.js';
import { ReportsPause } from './reports-pause.js';

/**
 * Settings of the report consumer. Handlers take milliseconds and are idempotent, so the
 * reports a killed manager was handling are taken over by another (or the restarted) manager
 * once idle for `claimIdleMs`; a manager renews what it is still handling every `claimEveryMs`
 * so that a slow handler is not taken over.
 */
export const REPORT_CONSUMER_OPTIONS = {
  /** Reports handled at once by this manager, all agents together. */
  concurrency: 64,
  /** Entries read per XREADGROUP. */
  count: 64,
  /** An idle reader's block: a report wakes it at once; a new agent's stream interrupts it. */
  blockMs: 10_000,
  claimIdleMs: 5_000,
  claimEveryMs: 2_500,
  /**
   * Every this often, a claim pass deletes the group's consumers idle that long with nothing
   * pending: those of managers gone (each start is a new consumer name).
   */
  pruneConsumersMs: 600_000,
} as const;

export interface ReportConsumersDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Applies one report; `from` is the agent whose stream it came through. */
  handle(report: Report, from: string): Promise<unknown>;
}

interface InFlight {
  agentId: string;
  since: number;
}

/**
 * Reads every agent's reports stream in one consumer group shared by the managers (either may
 * apply a report, each report is applied by one unless its manager dies). The stream a report
 * came through is its sender's identity: with Redis ACL users per agent (agent-acl.ts), only
 * that agent can write it. Agents are found by their heartbeat keys (which, too, only they can
 * write), and at start from the agents PostgreSQL knows, so reports sent while no manager ran
 * are taken up. One blocking connection reads all the streams.
 *
 * An applied report is acknowledged and deleted. One whose handling failed (PostgreSQL down)
 * stays pending and is tried again with a growing delay; one whose manager died is claimed by
 * another once idle for REPORT_CONSUMER_OPTIONS.claimIdleMs. Nothing is given up.
 */
export class ReportConsumers {
  private readonly agents = new Set<string>();
  /** Agents whose group may be missing (new, or after NOGROUP): created before the next read. */
  private readonly needGroup = new Set<string>();
  private readonly byKey = new Map<string, string>();
  private readonly inFlight = new Map<string, InFlight>();
  /** Failed entries: how many times in a row, and when this manager may try again. */
  private readonly failures = new Map<string, { n: number; notBefore: number }>();
  private readonly acks = new Map<string, { entryId: string; reportId: string }[]>();
  private ackTimer: NodeJS.Immediate | null = null;
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly reader: Redis;
  private readerId: number | null = null;
  private reading: Promise<void> | null = null;
  private claimTimer: NodeJS.Timeout | null = null;
  private claiming: Promise<void> | null = null;
  /** When the next claim pass prunes the consumers of managers gone (the first pass does). */
  private pruneAt = 0;
  private wake: (() => void) | null = null;
  private slotFreed: (() => void) | null = null;
  private closed = false;
  /** The operator's reports pause, followed by message and claim pass (reports-pause.ts). */
  private readonly pause: ReportsPause;

  constructor(private readonly deps: ReportConsumersDeps) {
    this.reader = deps.redis.duplicate();
    this.reader.on('error', () => {}); // the reads fail and are logged
    this.reader.on('ready', () => (this.readerId = null));
    this.pause = new ReportsPause(deps.redis, deps.prefix);
  }

  /** Consumes the reports of `agentId` from now on (idempotent). */
  ensure(agentId: string): void {
    if (this.closed || this.agents.has(agentId)) return;
    this.agents.add(agentId);
    this.byKey.set(reportStreamKey(this.deps.prefix, agentId), agentId);
    this.needGroup.add(agentId);
    this.start();
    this.interruptRead();
  }

  /** Looks for agents that sent a heartbeat and starts consuming their reports. */
  async discover(): Promise<void> {
    const { redis, prefix } = this.deps;
    const strip = `${prefix}:heartbeat:`.length;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', heartbeatPattern(prefix), 'COUNT', 1000);
      cursor = next;
      for (const k of keys) this.ensure(k.slice(strip));
    } while (cursor !== '0');
  }

  private start(): void {
    if (this.reading || this.closed) return;
    this.pause.watch();
    // The first read waits for the pause to be known (a manager started while it is set).
    this.reading = this.pause
      .read()
      .catch(() => false)
      .then(() => this.readLoop());
    this.claimTimer = setInterval(() => {
      if (!this.claiming)
        this.claiming = this.claimPass()
          .catch((err) => this.deps.log.error('report claim failed', { err: String(err) }))
          .finally(() => (this.claiming = null));
    }, REPORT_CONSUMER_OPTIONS.claimEveryMs);
  }

  /** Ends a blocking read under way, so the next one reads the streams as they are now. */
  private interruptRead(): void {
    this.wake?.();
    if (this.readerId === null) return;
    this.deps.redis.client('UNBLOCK', this.readerId).catch(() => {});
  }

  private async readLoop(): Promise<void> {
    const { log } = this.deps;
    let failures = 0;
    while (!this.closed) {
      try {
        await this.createGroups();
        await this.freeSlot();
        if (this.closed) break;
        if (this.readerId === null) this.readerId = Number(await this.reader.client('ID'));
        const keys = [...this.byKey.keys()];
        const reply = (await this.reader.call(
          'XREADGROUP',
          'GROUP',
          REPORTS_GROUP,
          this.consumer,
          'COUNT',
          REPORT_CONSUMER_OPTIONS.count,
          'BLOCK',
          REPORT_CONSUMER_OPTIONS.blockMs,
          'STREAMS',
          ...keys,
          ...keys.map(() => '>'),
        )) as [string, [string, string[] | null][]][] | null;
        failures = 0;
        const read = parseReadReply(reply);
        if (read.size === 0) continue;
        const taken: [string, ReportEntry | MalformedEntry][] = [];
        for (const [key, entries] of read) {
          const agentId = this.byKey.get(key);
          if (!agentId) continue;
          for (const e of entries) {
            this.inFlight.set(`${key} ${e.entryId}`, { agentId, since: Date.now() });
            taken.push([agentId, e]);
          }
        }
        await this.pause.whileHeld();
        if (this.closed) {
          // Left pending: another manager takes them over.
          for (const [agentId, e] of taken)
            this.release(`${reportStreamKey(this.deps.prefix, agentId)} ${e.entryId}`);
          break;
        }
        for (const [agentId, e] of taken) this.dispatch(agentId, e);
      } catch (err) {
        if (this.closed) break;
        if (isNoGroup(err)) {
          // The streams or their group are gone (a flush, a restarted Redis without its data).
          for (const a of this.agents) this.needGroup.add(a);
          continue;
        }
        failures++;
        if (!/UNBLOCKED/.test(String(err)))
          log.error('report read failed', { err: String(err), consumer: this.consumer });
        await this.sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)));
      }
    }
  }

  private async createGroups(): Promise<void> {
    for (const agentId of [...this.needGroup]) {
      await ensureReportsGroup(this.deps.redis, this.deps.prefix, agentId);
      this.needGroup.delete(agentId);
    }
    if (this.agents.size === 0 && !this.closed) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
  }

  /** Waits until fewer than REPORT_CONSUMER_OPTIONS.concurrency reports are in hand. */
  private async freeSlot(): Promise<void> {
    while (!this.closed && this.inFlight.size >= REPORT_CONSUMER_OPTIONS.concurrency)
      await new Promise<void>((r) => (this.slotFreed = r));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }

  /** Applies one entry in the background; acknowledges it once applied. */
  private dispatch(agentId: string, e: ReportEntry | MalformedEntry): void {
    const { log } = this.deps;
    const key = reportStreamKey(this.deps.prefix, agentId);
    const ref = `${key} ${e.entryId}`;
    if ('malformed' in e) {
      log.error('report refused', { reason: 'malformed', from: agentId, entry: e.entryId, why: e.malformed });
      this.ack(agentId, e.entryId, '');
      this.release(ref);
      return;
    }
    this.deps
      .handle(e.report, agentId)
      .then(
        () => {
          this.failures.delete(ref);
          this.ack(agentId, e.entryId, e.reportId);
        },
        (err: unknown) => {
          const n = (this.failures.get(ref)?.n ?? 0) + 1;
          this.failures.set(ref, { n, notBefore: Date.now() + retryDelayMs(n) });
          log.error('report failed', { agentId, name: e.report.name, failures: n, err: String(err) });
        },
      )
      .finally(() => this.release(ref));
  }

  private release(ref: string): void {
    this.inFlight.delete(ref);
    const freed = this.slotFreed;
    this.slotFreed = null;
    freed?.();
  }

  /** Acknowledges applied entries in batches: one script call per agent per event-loop turn. */
  private ack(agentId: string, entryId: string, reportId: string): void {
    const list = this.acks.get(agentId) ?? [];
    list.push({ entryId, reportId });
    this.acks.set(agentId, list);
    this.ackTimer ??= setImmediate(() => void this.flushAcks());
  }

  private async flushAcks(): Promise<void> {
    this.ackTimer = null;
    const batches = [...this.acks];
    this.acks.clear();
    await Promise.all(
      batches.map(([agentId, done]) =>
        // A lost ack leaves the entry pending: it is claimed and applied again (idempotent).
        ackReports(this.deps.redis, this.deps.prefix, agentId, done).catch((err: unknown) =>
          this.deps.log.error('report ack failed', { agentId, err: String(err) }),
        ),
      ),
    );
  }

  /**
   * Renews the entries this manager is still handling (so they are not taken over), then takes
   * the entries idle for claimIdleMs: a dead manager's, and this manager's failed ones when due.
   */
  private async claimPass(): Promise<void> {
    const { redis, prefix } = this.deps;
    const now = Date.now();
    const renew = new Map<string, string[]>();
    for (const [ref, f] of this.inFlight) {
      if (now - f.since < REPORT_CONSUMER_OPTIONS.claimEveryMs) continue;
      const [key, id] = ref.split(' ') as [string, string];
      renew.set(key, [...(renew.get(key) ?? []), id]);
    }
    for (const [key, ids] of renew)
      await redis.call('XCLAIM', key, REPORTS_GROUP, this.consumer, 0, ...ids, 'JUSTID').catch(() => {});
    if (await this.pause.read()) return;
    for (const agentId of [...this.agents]) {
      if (this.closed) return;
      const key = reportStreamKey(prefix, agentId);
      let cursor = '0-0';
      do {
        let reply: [string, [string, string[] | null][], string[]?];
        try {
          reply = (await redis.call(
            'XAUTOCLAIM',
            key,
            REPORTS_GROUP,
            this.consumer,
            REPORT_CONSUMER_OPTIONS.claimIdleMs,
            cursor,
            'COUNT',
            100,
          )) as typeof reply;
        } catch (err) {
          if (!isNoGroup(err)) throw err;
          this.needGroup.add(agentId);
          this.interruptRead();
          break;
        }
        cursor = reply[0];
        for (const [entryId, fields] of reply[1]) {
          const ref = `${key} ${entryId}`;
          if (this.inFlight.has(ref) || this.inFlight.size >= REPORT_CONSUMER_OPTIONS.concurrency) continue;
          if ((this.failures.get(ref)?.notBefore ?? 0) > Date.now()) continue;
          if (fields === null) continue;
          this.inFlight.set(ref, { agentId, since: Date.now() });
          this.dispatch(agentId, parseEntry(entryId, fields));
        }
        // Entries deleted while pending (Redis 7 lists them last): nothing left to apply.
        const gone = reply[2] ?? [];
        if (gone.length > 0)
          await ackReports(
            redis,
            prefix,
            agentId,
            gone.map((id) => ({ entryId: id, reportId: '' })),
          );
      } while (cursor !== '0-0');
    }
    if (now >= this.pruneAt) {
      this.pruneAt = now + REPORT_CONSUMER_OPTIONS.pruneConsumersMs;
      for (const agentId of [...this.agents]) {
        if (this.closed) return;
        const key = reportStreamKey(prefix, agentId);
        const n = await pruneIdleConsumers(
          redis,
          key,
          REPORT_CONSUMER_OPTIONS.pruneConsumersMs,
          this.consumer,
        );
        if (n > 0) this.deps.log.info('report consumers pruned', { agentId, consumers: n });
      }
    }
    // Forgets failures not retried here for two minutes (another manager applied the entry).
    for (const [ref, f] of this.failures)
      if (!this.inFlight.has(ref) && f.notBefore < now - 120_000) this.failures.delete(ref);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.claimTimer) clearInterval(this.claimTimer);
    this.wake?.();
    this.slotFreed?.();
    this.pause.close();
    // A blocked read is ended by disconnecting its connection (its reply no longer matters).
    this.reader.disconnect();
    await this.reading?.catch(() => {});
    await this.claiming;
    // Reports under way are finished and acknowledged; what is unread stays for another manager.
    while (this.inFlight.size > 0) await new Promise<void>((r) => (this.slotFreed = r));
    if (this.ackTimer) {
      clearImmediate(this.ackTimer);
      await this.flushAcks();
    }
  }
}
