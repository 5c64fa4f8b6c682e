import { Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';

/** The BullMQ worker fields this subclass reads or sets (private in BullMQ's types). */
interface WorkerInternals {
  drained: boolean;
}

/**
 * The agent's BullMQ worker: BullMQ's own loop, lock renewal, stalled-job checker and close,
 * with two fetches fewer per job. Each costs a `moveToActive` script (~7 commands) that finds
 * nothing when jobs come one at a time, as the agent's do:
 *
 * - After a job is found, BullMQ's loop (concurrency > 1) asks again at once without blocking,
 *   then blocks on the queue's marker, which the found fetch has just set again, and asks a
 *   third time. Here the worker counts as drained after every job it finds, so the next fetch
 *   always waits on the marker first: one empty fetch (the marker set by the found one) where
 *   there were two. A job that is waiting always has a marker (BullMQ sets it on every add,
 *   promotion and retry, and again after every fetch that found one), so none is left behind:
 *   a burst costs one `BZPOPMIN` more per job, not a job.
 * - Completion does not fetch the next job (`fetchNext`): the loop's blocking fetch, already
 *   waiting while the job ran, takes it. BullMQ's loop does the same whenever it is at its
 *   concurrency; it is the same path.
 *
 * Nothing else changes: the lock is taken with the job and renewed by BullMQ's lock manager,
 * a job whose worker died is moved back by any worker's stalled-job checker, close waits for
 * the jobs under way.
 */
export class AgentWorker<Data = unknown> extends Worker<Data> {
  constructor(name: string, processor: Processor<Data>, opts: WorkerOptions) {
    super(name, processor, opts);
  }

  override processJob(job: Job<Data>, token: string): ReturnType<Worker<Data>['processJob']> {
    return super.processJob(job, token, () => false);
  }

  protected override async nextJobFromJobData(
    jobData?: JobJson,
    jobId?: string,
    token?: string,
  ): Promise<Job<Data>> {
    const job = await super.nextJobFromJobData(jobData, jobId, token);
    if (job) (this as unknown as WorkerInternals).drained = true;
    return job;
  }
}

/** Whether this BullMQ still has the field AgentWorker sets (a check for upgrades). */
export function hasDrainedFlag(worker: Worker): boolean {
  return typeof (worker as unknown as Partial<WorkerInternals>).drained === 'boolean';
}
