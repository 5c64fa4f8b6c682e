import { randomBytes, randomUUID } from 'node:crypto';
import { mountTarget } from '../domain/container-plan.js';
import {
  InsufficientPrivilege,
  InvalidRequest,
  ObjectNotFound,
  QuotaExceeded,
  SessionAlreadyExists,
} from '../domain/errors.js';
import { neverFits } from '../domain/placement.js';
import { formatSlot, parseBytes, parseSlots, scaleSlots, type Slots } from '../domain/resources.js';
import { parseCreateSessionBody, type CreateSessionRequest } from '../domain/session-request.js';
import { mountReadOnly, parseMountEntry } from '../domain/storage-folder.js';
import { LIVE_STATUSES, type SessionStatus } from '../domain/status.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import { FolderStore } from '../persistence/folder-store.js';
import type { Db } from '../persistence/db.js';
import type { KernelRow, MountSpec, SessionRow } from '../persistence/rows.js';
import type { SessionStore } from '../persistence/session-store.js';
import type { AgentQueues } from '../queue/agent-queues.js';
import type { Principal } from './auth.js';
import type { EventHub } from './event-hub.js';

export interface SessionServiceDeps {
  db: Db;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  hub: EventHub;
  /** Asks the dispatcher for a pass; given a new session's starts_at, only when it may be due. */
  kickDispatcher: (startsAt?: Date | null) => void;
}

export interface CreateAnswer {
  sessionId: string;
  sessionName: string;
  status: string;
  servicePorts: never[];
  created: boolean;
  result?: string;
  exitCode?: number | null;
}

const DEFAULT_SLOTS: Slots = { cpu: 1, mem: 256 * 1024 * 1024 };
const WAITED_STATUSES: SessionStatus[] = ['RUNNING', 'TERMINATING', 'TERMINATED', 'CANCELLED', 'ERROR'];

/** Creating and destroying sessions: the checks of BACKENDAI-API.md, then one transaction. */
export class SessionService {
  private readonly folders: FolderStore;

  constructor(private readonly deps: SessionServiceDeps) {
    this.folders = new FolderStore(deps.db);
  }

  /** The keypair a request acts for: its own, or another one for admins (`owner_access_key`). */
  async ownerOf(principal: Principal, ownerAccessKey: string | null | undefined): Promise<string> {
    if (!ownerAccessKey || ownerAccessKey === principal.accessKey) return principal.accessKey;
    if (principal.role === 'user')
      throw new InsufficientPrivilege('Only admins may act for another keypair.');
    const kp = await this.deps.catalog.keypair(ownerAccessKey);
    if (!kp) throw new ObjectNotFound(`No keypair "${ownerAccessKey}".`, 'keypair');
    if (principal.role === 'admin' && kp.domain_name !== principal.domain) {
      throw new InsufficientPrivilege('Admins act only within their own domain.');
    }
    return kp.access_key;
  }

  async create(principal: Principal, body: unknown): Promise<{ answer: CreateAnswer; status: number }> {
    const req = parseCreateSessionBody(body, new Date());
    const accessKey = await this.ownerOf(principal, req.ownerAccessKey);
    const owner = (await this.deps.catalog.keypair(accessKey))!;
    if (req.domain !== owner.domain_name && principal.role !== 'superadmin') {
      throw new InvalidRequest(`The keypair belongs to domain "${owner.domain_name}", not "${req.domain}".`);
    }
    const image = await this.deps.catalog.resolveImage(req.image, owner.domain_name);
    const scalingGroup = req.scalingGroup ?? 'default';
    if (!(await this.deps.catalog.scalingGroupExists(scalingGroup))) {
      throw new InvalidRequest(`Unknown scaling group "${scalingGroup}".`);
    }
    const agents = await this.deps.catalog.aliveAgents(scalingGroup);
    const known = new Set(['cpu', 'mem', ...agents.flatMap((a) => Object.keys(a.available_slots))]);
    const slots = this.slotsFor(req, image.labels, known);
    const resourceOpts = this.resourceOptsFor(req, slots);
    const policy = await this.deps.catalog.policy(owner.resource_policy);
    if (req.priority > policy.max_priority) {
      throw new InvalidRequest(
        `priority ${req.priority} is above this keypair's maximum of ${policy.max_priority}.`,
      );
    }
    for (const [k, v] of Object.entries(policy.total_resource_slots)) {
      const asked = (slots[k] ?? 0) * req.clusterSize;
      if (asked > v)
        throw new QuotaExceeded(
          `The session asks ${formatSlot(k, asked)} ${k}; the policy allows ${formatSlot(k, v)}.`,
        );
    }
    const whole = scaleSlots(slots, req.clusterSize);
    const never = neverFits(
      whole,
      agents.map((a) => ({ id: a.id, total: a.available_slots, occupied: {} })),
    );
    if (never) {
      throw new InvalidRequest(
        `No agent of scaling group "${scalingGroup}" could ever hold this session: it asks ${formatSlot(never.slot, never.need)} ${never.slot}` +
          `, and the largest agent has ${formatSlot(never.slot, never.max)}.`,
        { data: { slot: never.slot, requested: never.need, available: never.max } },
      );
    }
    const mounts = await this.resolveMounts(req, accessKey, owner.domain_name);
    const dependencies = await this.dependencyIds(req.dependencies, accessKey);
    const name = req.name ?? `sess-${randomBytes(4).toString('hex')}`;

    if (req.name) {
      const existing = await this.deps.sessions.findLiveByName(accessKey, req.name);
      if (existing) return { answer: await this.reuse(existing, req), status: 201 };
    }
    if (policy.max_pending_session_count !== null) {
      const pending = (await this.deps
        .db('sessions')
        .where({ access_key: accessKey, status: 'PENDING' })
        .count('* as n')
        .first()) as { n: string } | undefined;
      if (Number(pending?.n ?? 0) >= policy.max_pending_session_count) {
        throw new QuotaExceeded(
          `This keypair already has ${policy.max_pending_session_count} pending sessions, its limit.`,
        );
      }
    }

    const id = randomUUID();
    const session: Partial<SessionRow> = {
      id,
      name,
      access_key: accessKey,
      domain_name: owner.domain_name,
      group_name: req.group,
      scaling_group: scalingGroup,
      type: req.type,
      status: 'PENDING',
      status_history: { PENDING: new Date().toISOString() },
      image: image.canonical,
      requested_image: req.image,
      startup_command: req.startupCommand,
      bootstrap_script: req.bootstrapScript,
      environ: req.environ,
      mounts,
      requested_slots: slots,
      resource_opts: resourceOpts,
      cluster_size: req.clusterSize,
      cluster_mode: req.clusterMode,
      starts_at: req.startsAt,
      batch_timeout_sec: req.batchTimeoutSeconds,
      callback_url: req.callbackUrl,
      priority: req.priority,
      tag: req.tag,
      retry_policy: req.retry,
    };
    const kernels: Partial<KernelRow>[] = Array.from({ length: req.clusterSize }, (_, i) => ({
      id: randomUUID(),
      session_id: id,
      cluster_role: i === 0 ? 'main' : 'sub',
      cluster_idx: i === 0 ? 1 : i,
      cluster_hostname: i === 0 ? 'main1' : `sub${i}`,
      status: 'PENDING',
      status_history: { PENDING: new Date().toISOString() },
      occupied_slots: {},
    }));
    const jsonCols = toJsonColumns(session);
    let row: SessionRow;
    try {
      row = await this.deps.sessions.insert(jsonCols, kernels.map(toJsonColumns), dependencies);
    } catch (err) {
      if ((err as { constraint?: string }).constraint === 'sessions_live_name_uq') {
        const existing = await this.deps.sessions.findLiveByName(accessKey, name);
        if (existing) return { answer: await this.reuse(existing, req), status: 201 };
      }
      throw err;
    }
    this.deps.kickDispatcher(row.starts_at);
    if (req.enqueueOnly) {
      return { answer: answerOf(row, true), status: 201 };
    }
    const final = await this.waitFor(row.id, req.maxWaitSeconds);
    return {
      answer: final ? answerOf(final, true) : { ...answerOf(row, true), status: 'TIMEOUT' },
      status: 201,
    };
  }

  private async reuse(existing: SessionRow, req: CreateSessionRequest): Promise<CreateAnswer> {
    if (!req.reuseIfExists) throw new SessionAlreadyExists(existing.id);
    return answerOf(existing, false);
  }

  /** Waits until the session runs or ends; null when `maxWaitSeconds` (0: up to an hour) passes. */
  async waitFor(sessionId: string, maxWaitSeconds: number): Promise<SessionRow | null> {
    const limitMs = (maxWaitSeconds > 0 ? maxWaitSeconds : 3600) * 1000;
    return new Promise((resolve) => {
      let done = false;
      const finish = (row: SessionRow | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        resolve(row);
      };
      const check = () => {
        this.deps.sessions
          .get(sessionId)
          .then((row) => {
            if (row && WAITED_STATUSES.includes(row.status)) finish(row);
          })
          .catch(() => {});
      };
      const unsubscribe = this.deps.hub.subscribe((ev) => {
        if (ev.session_id === sessionId) check();
      });
      const timer = setTimeout(() => finish(null), limitMs);
      check();
    });
  }

  /** Cancels a PENDING session, or terminates one that was placed (its agent stops the containers). */
  async destroy(s: SessionRow, forced: boolean): Promise<SessionRow> {
    const { sessions, queues } = this.deps;
    if (s.status === 'PENDING') {
      const row = await sessions.transition(s.id, 'CANCELLED', {
        from: ['PENDING'],
        info: 'user-requested',
        result: 'FAILURE',
        kernels: true,
      });
      if (row) {
        this.deps.kickDispatcher();
        return row;
      }
      s = (await sessions.get(s.id))!;
    }
    if (!LIVE_STATUSES.includes(s.status)) return s;
    if (s.status === 'ERROR' || !s.agent_id) {
      return (
        (await sessions.transition(s.id, 'TERMINATED', {
          info: 'force-terminated',
          result: 'FAILURE',
          kernels: true,
        })) ?? s
      );
    }
    const reason = forced ? 'force-terminated' : 'user-requested';
    const row = (await sessions.transition(s.id, 'TERMINATING', { info: reason, kernels: true })) ?? s;
    await queues.destroy(s.agent_id, { sessionId: s.id, reason, forced });
    return row;
  }

  private slotsFor(
    req: CreateSessionRequest,
    labels: Record<string, string>,
    known: ReadonlySet<string>,
  ): Slots {
    const asked = parseSlots(req.resources, known);
    const min = labelSlots(labels, 'min', known);
    const max = labelSlots(labels, 'max', known);
    const slots: Slots = { ...DEFAULT_SLOTS };
    for (const [k, v] of Object.entries(min)) slots[k] = Math.max(slots[k] ?? 0, v);
    Object.assign(slots, asked);
    for (const [k, v] of Object.entries(min)) {
      if ((slots[k] ?? 0) < v)
        throw new InvalidRequest(
          `The image needs at least ${formatSlot(k, v)} ${k}; asked ${formatSlot(k, slots[k] ?? 0)}.`,
        );
    }
    for (const [k, v] of Object.entries(max)) {
      if ((slots[k] ?? 0) > v)
        throw new InvalidRequest(
          `The image allows at most ${formatSlot(k, v)} ${k}; asked ${formatSlot(k, slots[k] ?? 0)}.`,
        );
    }
    if ((slots.cpu ?? 0) <= 0 || (slots.mem ?? 0) < 6 * 1024 * 1024) {
      throw new InvalidRequest('resources need cpu > 0 and mem of at least 6m.');
    }
    return slots;
  }

  private resourceOptsFor(req: CreateSessionRequest, slots: Slots): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(req.resourceOpts)) {
      if (v === null || v === undefined) continue;
      if (k !== 'shmem') throw new InvalidRequest(`Unknown resource option "${k}"; known: shmem.`);
      out.shmem = parseBytes(v, 'resource_opts.shmem');
    }
    if (out.shmem !== undefined && out.shmem >= (slots.mem ?? 0)) {
      throw new InvalidRequest('resource_opts.shmem must be smaller than mem.');
    }
    return out;
  }

  /**
   * Mounts name storage folders: the domain's allow-list (`*`: any name) first, then each name
   * must be a folder the session's keypair owns or was invited to — anything else is the same
   * 404 as an unknown folder. The agent's host path comes from here (`<owner>/<name>`), never
   * from the requested name alone.
   */
  private async resolveMounts(
    req: CreateSessionRequest,
    accessKey: string,
    domain: string,
  ): Promise<MountSpec[]> {
    if (req.mounts.length === 0) return [];
    const asked = req.mounts.map((entry) => {
      const { name, mode } = parseMountEntry(entry);
      const target = mountTarget(name, req.mountMap[entry] ?? req.mountMap[name]);
      return { name, mode, target };
    });
    const dom = (await this.deps.db('domains').where({ name: domain }).first()) as
      { allowed_storage: string[] } | undefined;
    const allowed = dom?.allowed_storage ?? [];
    if (!allowed.includes('*'))
      for (const m of asked)
        if (!allowed.includes(m.name))
          throw new InvalidRequest(`The storage folder "${m.name}" is not allowed in domain "${domain}".`);
    const out: MountSpec[] = [];
    for (const m of asked) {
      const { folder, access } = await this.folders.usable(accessKey, m.name);
      out.push({
        name: m.name,
        target: m.target,
        readOnly: mountReadOnly(m.name, access, m.mode),
        path: folder.storage_path,
      });
    }
    return out;
  }

  private async dependencyIds(refs: string[], accessKey: string): Promise<string[]> {
    const out: string[] = [];
    for (const ref of refs) {
      try {
        out.push((await this.deps.sessions.resolve(ref, accessKey)).id);
      } catch (err) {
        if (err instanceof ObjectNotFound)
          throw new InvalidRequest(`Dependency "${ref}" is not a session of this keypair.`);
        throw err;
      }
    }
    return [...new Set(out)];
  }
}

function labelSlots(labels: Record<string, string>, kind: 'min' | 'max', known: ReadonlySet<string>): Slots {
  const raw: Record<string, string> = {};
  const prefix = `ai.backend.resource.${kind}.`;
  for (const [k, v] of Object.entries(labels)) if (k.startsWith(prefix)) raw[k.slice(prefix.length)] = v;
  try {
    return parseSlots(raw, new Set([...known, ...Object.keys(raw)]), `image label ${kind}`);
  } catch {
    return {};
  }
}

function answerOf(row: SessionRow, created: boolean): CreateAnswer {
  return {
    sessionId: row.id,
    sessionName: row.name,
    status: row.status,
    servicePorts: [],
    created,
    result: row.result,
    exitCode: row.exit_code,
  };
}

const JSON_COLUMNS = new Set([
  'status_data',
  'status_history',
  'environ',
  'mounts',
  'requested_slots',
  'resource_opts',
  'retry_policy',
  'attempts',
  'occupied_slots',
]);

/** knex sends JS arrays as PostgreSQL arrays; jsonb columns get JSON text. */
function toJsonColumns<T extends object>(row: T): T {
  const out = { ...row } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out))
    if (JSON_COLUMNS.has(k) && v !== null && v !== undefined) out[k] = JSON.stringify(v);
  return out as T;
}
