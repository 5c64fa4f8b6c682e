import { Command } from 'clipanion';
import { loadLogConfig, loadManagerConfig } from '../../config/config.js';
import { startManager } from '../../workers/manager/manager-process.js';
import { seedDefaults } from '../../persistence/seed.js';
import { BaseCommand } from '../base-command.js';
import { jsonLogger } from '../../log/logger.js';
import { startOrExit } from '../process-start.js';
import { untilSignal } from '../signals.js';

export class ManagerCommand extends BaseCommand {
  static override paths = [['manager']];
  static override usage = Command.Usage({
    category: 'Processes',
    description: 'Run the manager: HTTP API, dispatcher, report consumer, reconciler',
    details: `Configuration from the environment: DATABASE_URL (PostgreSQL; embedded PGlite under BAI_STATE_DIR when unset; ?sslmode=verify-full for TLS), BAI_DATABASE_CA_FILE, REDIS_URL (redis://, rediss:// or redis+sentinel://host:port,host:port/master), BAI_REDIS_CA_FILE, BAI_MANAGER_HOST, BAI_MANAGER_PORT, BAI_QUEUE_PREFIX, BAI_METRICS_TOKEN (bearer token of GET /metrics, docs/metrics.md), BAI_LOG_LEVEL, BAI_LOG_FORMAT (json|pretty; logs go to stdout, docs/logging.md). SIGTERM drains; a second signal forces. Multi-host set-up: docs/deploy.md.`,
    examples: [
      ['With a PostgreSQL server', 'DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379 $0 manager'],
    ],
  });

  async run(): Promise<number> {
    // Log lines on stdout (JSON, or readable at a terminal), beside the ready line.
    const log = jsonLogger(this.context.stdout, 'manager', loadLogConfig(this.context.env));
    const config = loadManagerConfig(this.context.env);
    const m = await startOrExit(log, 'manager', () => startManager(config, log));
    const env = this.context.env;
    if (env.BAI_SEED_ACCESS_KEY && env.BAI_SEED_SECRET_KEY) {
      await seedDefaults(m.db, { accessKey: env.BAI_SEED_ACCESS_KEY, secretKey: env.BAI_SEED_SECRET_KEY });
    }
    this.context.stdout.write(`${JSON.stringify({ ready: true, url: m.url })}\n`);
    await untilSignal(log);
    await m.close();
    return 0;
  }
}
