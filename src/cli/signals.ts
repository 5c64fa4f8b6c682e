import type { Logger } from '../log/logger.js';

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
export function untilSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let count = 0;
    const on = (sig: NodeJS.Signals) => {
      count += 1;
      if (count > 1) {
        log.error('second signal: exiting now', { sig });
        process.exit(130);
      }
      log.info('draining', { sig });
      resolve();
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
