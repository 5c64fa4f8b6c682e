import { randomBytes } from 'node:crypto';
import {
  checkArchitecture,
  checkCapacity,
  checkDomain,
  checkGroupMembership,
  checkPendingLimit,
  checkPolicy,
  checkScalingGroup,
  checkScalingGroupAccess,
  DEFAULT_GROUP,
  knownSlots,
  resourceOptsFor,
  slotsFor,
  unknownDependency,
} from '../domain/admission.js';
import { checkArrayPendingLimit, checkChildNames } from '../domain/array-spec.js';
import {
  mergeDependencies,
  type DependencyRef,
  type ResolvedDependency,
} from '../domain/dependency-condition.js';
import { createWaitLimitMs, WAITED_STATUSES } from '../domain/create-wait.js';
import { InsufficientPrivilege, ObjectNotFound, SessionAlreadyExists } from '../domain/errors.js';
import { idempotentRequestOf, type IdempotentRequest } from '../domain/idempotency.js';
import { parseCreateSessionBody, type CreateSessionRequest } from '../domain/session-request.js';
import { LIVE_STATUSES } from '../domain/status.js';
import type { Logger } from '../log/logger.js';
import type { RequestScope } from '../log/request-scope.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { FolderStore } from '../persistence/folder-store.js';
import type { KeypairRow, SessionRow } from '../persistence/rows.js';
import { sessionRowsOf, type Admitted, type ScheduledRows } from './session-rows.js';
import type { SessionQueries } from '../persistence/session-queries.js';
import type { SessionStore } from '../persistence/session-store.js';
import type { AgentQueues } from '../queue/agent-queues.js';
import type { ArrayService } from './array-service.js';
import type { SubmitBatcher } from './submit-batcher.js';
import type { Principal } from './auth.js';
import type { EventHub } from './event-hub.js';
import { resolveMounts } from './mount-resolver.js';
import type { IdempotentCreates } from './idempotent-create.js';
import type { AdmissionReads } from './admission-reads.js';

export interface SessionServiceDeps {
  sessions: SessionStore;
  folders: FolderStore;
  queries: SessionQueries;
  catalog: CatalogStore;
  /** The reads admission needs current (alive agents, pending count), batched across requests. */
  admission: Pick<AdmissionReads, 'read'>;
  queues: AgentQueues;
  hub: EventHub;
  log: Logger;
  /** Idempotency keys of create requests (src/api/idempotent-create.ts). */
  idempotency: IdempotentCreates;
  /** Array jobs (`array` in the create body): their insert and cancel. */
  arrays: ArrayService;
  /** Group commit of new sessions (src/api/submit-batcher.ts). */
  submits: SubmitBatcher;
  /** Asks the dispatcher for a pass; given a new session's starts_at, only when it may be due. */
  kickDispatcher: (startsAt?: Date | null, groups?: Iterable<string>) => void;
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

/** Creating and destroying sessions: the checks of BACKENDAI-API.md, then one transaction. */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** The keypair a request acts for: its own, or another one for admins (`owner_access_key`). */
  async ownerKeypair(principal: Principal, ownerAccessKey: string | null | undefined): Promise<KeypairRow> {
    const accessKey = ownerAccessKey || principal.accessKey;
    if (accessKey !== principal.accessKey && principal.role === 'user')
      throw new InsufficientPrivilege('Only admins may act for another keypair.');
    const kp = await this.deps.catalog.keypair(accessKey);
    if (!kp) throw new ObjectNotFound(`No keypair "${accessKey}".`, 'keypair');
    if (principal.role === 'admin' && kp.domain_name !== principal.domain) {
      throw new InsufficientPrivilege('Admins act only within their own domain.');
    }
    return kp;
  }

  /** The access key of `ownerKeypair`; a request for itself reads nothing. */
  async ownerOf(principal: Principal, ownerAccessKey: string | null | undefined): Promise<string> {
    if (!ownerAccessKey || ownerAccessKey === principal.accessKey) return principal.accessKey;
    return (await this.ownerKeypair(principal, ownerAccessKey)).access_key;
  }

  /**
   * `signal` aborts the wait of a request whose client went away (the only limit of
   * `maxWaitSeconds: 0`). `idempotencyKey`: the request's Idempotency-Key header, if any.
   * `request`: the HTTP request that creates it (its id is kept on the session, its logger used).
   */
  async create(
    principal: Principal,
    body: unknown,
    signal?: AbortSignal,
    idempotencyKey?: string,
    request?: RequestScope,
  ): Promise<{ answer: CreateAnswer; status: number }> {
    // One instant for the request: a relative starts_at ("1s") counts from the creation time the
    // session shows, however long the checks below take on a busy machine.
    const received = new Date();
    const req = parseCreateSessionBody(body, received);
    const idem = idempotentRequestOf(body, idempotencyKey);
    const owner = await this.ownerKeypair(principal, req.ownerAccessKey);
    const accessKey = owner.access_key;
    // A key used before answers the session it created, whatever became of it (docs/api.md).
    const replayed = idem && (await this.deps.idempotency.replay(accessKey, idem));
    if (replayed) return { answer: answerOf(replayed, false), status: 201 };
    const { pending, ...admitted } = await this.admit(req, owner, principal.role === 'superadmin');
    const { policy, name, dependencies } = admitted;

    if (req.name) {
      const existing = await this.deps.sessions.findLiveByName(accessKey, req.name);
      if (existing) return { answer: await this.reuse(existing, req, idem), status: 201 };
    }
    // Read with the alive agents, in admit (one batched statement): after the request came.
    if (policy.max_pending_session_count !== null && pending !== null) {
      if (req.array) checkArrayPendingLimit(policy.max_pending_session_count, pending, req.array);
      else checkPendingLimit(policy, pending);
    }
    const { session, kernels } = sessionRowsOf(req, owner, admitted, received, request?.requestId ?? null);
    let row: SessionRow;
    try {
      // With a key, a concurrent request holding it may have won: its session is the answer.
      // One session: group-committed with concurrent creates (submit-batcher.ts), which also
      // wakes the dispatcher once per group. An array (up to 10,000 children) is its own insert.
      const held = req.array
        ? await this.deps.idempotency.insert(
            accessKey,
            idem,
            this.deps.arrays.inserter(session, kernels, dependencies, req.array),
          )
        : await this.deps.submits.insert(accessKey, idem, { session, kernels, dependencies });
      if (!held.created) return { answer: answerOf(held.row, false), status: 201 };
      row = held.row;
    } catch (err) {
      // A concurrent create of the same name won the race: answer as for an existing session.
      if ((err as { constraint?: string }).constraint === 'sessions_live_name_uq') {
        const existing = await this.deps.sessions.findLiveByName(accessKey, name);
        if (existing) return { answer: await this.reuse(existing, req, idem), status: 201 };
      }
      throw err;
    }
    (request?.log ?? this.deps.log).info('session created', { sessionId: row.id });
    if (req.array) this.deps.kickDispatcher(row.starts_at, [row.scaling_group]);
    if (req.enqueueOnly) {
      return { answer: answerOf(row, true), status: 201 };
    }
    const final = await this.waitFor(row.id, req.maxWaitSeconds, signal);
    return {
      answer: final ? answerOf(final, true) : { ...answerOf(row, true), status: 'TIMEOUT' },
      status: 201,
    };
  }

  /**
   * A schedule's session (src/workers/manager/schedule-ticker.ts): `body` checked and admitted
   * as POST /session would for its owner, the rows ready for the firing transaction.
   */
  async prepareScheduled(
    owner: KeypairRow,
    body: Record<string, unknown>,
    origin: Pick<SessionRow, 'schedule_id' | 'schedule_name' | 'scheduled_for' | 'name'>,
    received: Date,
    requestId: string | null = null,
  ): Promise<ScheduledRows> {
    const req = parseCreateSessionBody({ ...body, name: origin.name }, received);
    const { pending, ...admitted } = await this.admit(req, owner, owner.role === 'superadmin');
    if (pending !== null) checkPendingLimit(admitted.policy, pending);
    const { session, kernels } = sessionRowsOf(req, owner, admitted, received, requestId);
    Object.assign(session, origin);
    return { session, kernels, dependencies: admitted.dependencies };
  }

  /**
   * Every check of a create request but the name's reuse and the pending limit; `pending`: the
   * keypair's PENDING sessions when its policy limits them (null: it does not).
   */
  private async admit(
    req: CreateSessionRequest,
    owner: KeypairRow,
    superadmin: boolean,
  ): Promise<Admitted & { pending: number | null }> {
    const accessKey = owner.access_key;
    checkDomain(req.domain, owner.domain_name, superadmin);
    const { catalog } = this.deps;
    checkGroupMembership(req.group, {
      role: owner.role,
      // Only a user's request for a group other than `default` needs the membership read.
      memberOf:
        owner.role === 'user' && req.group !== DEFAULT_GROUP
          ? await catalog.groupsOf(accessKey, owner.domain_name)
          : [],
    });
    const image = await catalog.resolveImage(req.image, owner.domain_name);
    const scalingGroup = req.scalingGroup ?? 'default';
    const group = await catalog.scalingGroup(scalingGroup);
    checkScalingGroup(scalingGroup, group.exists);
    checkScalingGroupAccess(scalingGroup, group, {
      accessKey,
      domain: owner.domain_name,
      role: owner.role,
    });
    const policy = await catalog.policy(owner.resource_policy);
    // The scaling group's alive agents and the keypair's pending count: read for this request
    // (never cached), in one statement shared with the creates that came meanwhile.
    const facts = await this.deps.admission.read({
      scalingGroup,
      accessKey: policy.max_pending_session_count === null ? null : accessKey,
    });
    const agents = checkArchitecture(scalingGroup, req.architecture, facts.agents).map((a) => ({
      id: a.id,
      total: a.available_slots,
    }));
    const slots = slotsFor(
      req.resources,
      { name: image.canonical, labels: image.labels },
      knownSlots(agents),
    );
    const resourceOpts = resourceOptsFor(req.resourceOpts, slots);
    checkPolicy(policy, { priority: req.priority, slots, clusterSize: req.clusterSize });
    checkCapacity(scalingGroup, slots, req.clusterSize, agents);
    const mounts = await resolveMounts(this.deps, req, accessKey, owner.domain_name);
    const dependencies = await this.dependencyIds(req.dependencies, accessKey);
    const name = req.name ?? `sess-${randomBytes(4).toString('hex')}`;
    if (req.array) checkChildNames(name, req.array);
    return {
      policy,
      name,
      dependencies,
      image,
      scalingGroup,
      slots,
      resourceOpts,
      mounts,
      pending: facts.pending,
    };
  }

  private async reuse(
    existing: SessionRow,
    req: CreateSessionRequest,
    idem: IdempotentRequest | null,
  ): Promise<CreateAnswer> {
    if (!req.reuseIfExists) throw new SessionAlreadyExists(existing.id);
    return answerOf(idem ? await this.deps.idempotency.adopt(idem, existing) : existing, false);
  }

  /**
   * Waits until the session runs or ends; null when `maxWaitSeconds` passes or `signal` aborts.
   * 0 waits as Backend.AI does: no limit but the client's (its going away aborts `signal`).
   */
  async waitFor(sessionId: string, maxWaitSeconds: number, signal?: AbortSignal): Promise<SessionRow | null> {
    const limitMs = createWaitLimitMs(maxWaitSeconds);
    return new Promise((resolve) => {
      let done = false;
      const finish = (row: SessionRow | null) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        unsubscribe();
        resolve(row);
      };
      const onAbort = () => {
        this.deps.log.info('create wait ended: the client went away', { sessionId });
        finish(null);
      };
      const check = () => {
        this.deps.sessions
          .get(sessionId)
          .then((row) => {
            if (row && WAITED_STATUSES.includes(row.status)) finish(row);
          })
          .catch((err: unknown) =>
            // The next event of the session, or the time limit, looks again.
            this.deps.log.error('create wait: reading the session failed', {
              sessionId,
              err: String((err as Error)?.message ?? err),
            }),
          );
      };
      const unsubscribe = this.deps.hub.subscribe((ev) => {
        if (ev.session_id === sessionId) check();
      });
      const timer = limitMs === null ? null : setTimeout(() => finish(null), limitMs);
      if (signal?.aborted) return finish(null);
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /**
   * Cancels a PENDING session, or terminates one that was placed (its agent stops the containers).
   * `data` goes into status_data (a schedule's Replace says that the schedule cancelled it).
   */
  async destroy(s: SessionRow, forced: boolean, data?: Record<string, unknown>): Promise<SessionRow> {
    const { sessions, queues } = this.deps;
    if (s.array_size !== null) return this.deps.arrays.cancel(s, forced, (c) => this.destroy(c, forced));
    if (s.status === 'PENDING') {
      const row = await sessions.transition(s.id, 'CANCELLED', {
        from: ['PENDING'],
        info: 'user-requested',
        result: 'FAILURE',
        kernels: true,
        data,
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
    const row = (await sessions.transition(s.id, 'TERMINATING', { info: reason, kernels: true, data })) ?? s;
    await queues.destroy(s.agent_id, { sessionId: s.id, reason, forced });
    return row;
  }

  /**
   * Backend.AI's recursive destroy: every session that depends on `s` (transitively, deepest
   * first) goes the way `destroy` sends it, with the same reason, then `s` itself.
   */
  async destroyRecursive(
    s: SessionRow,
    forced: boolean,
  ): Promise<{ row: SessionRow; dependents: SessionRow[] }> {
    const dependents: SessionRow[] = [];
    for (const d of await this.deps.queries.dependents(s.id, s.access_key))
      dependents.push(await this.destroy(d, forced));
    return { row: await this.destroy(s, forced), dependents };
  }

  private async dependencyIds(refs: DependencyRef[], accessKey: string): Promise<ResolvedDependency[]> {
    const out: (ResolvedDependency & { ref: string })[] = [];
    for (const { ref, condition } of refs) {
      try {
        out.push({ ref, id: (await this.deps.sessions.resolve(ref, accessKey)).id, condition });
      } catch (err) {
        // Another keypair's session, or none: the request names a dependency it may not use.
        if (err instanceof ObjectNotFound) throw unknownDependency(ref);
        throw err;
      }
    }
    return mergeDependencies(out);
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
