import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentConfig } from '../../config/config.js';
import { LOOPBACK_HOSTS } from '../../domain/container-plan.js';
import type { Logger } from '../../log/logger.js';

/**
 * Writes the hosts file that kernels without a network mount (container-plan.ts, loopbackOnly),
 * whole or not at all (a new file renamed over the old, so agents sharing one never read half
 * of it). Returns the configuration to run with: without the file when it could not be
 * written, so that those kernels get the engine's own network sandbox instead, as before.
 */
export async function withLoopbackHosts(config: AgentConfig, log: Logger): Promise<AgentConfig> {
  const file = config.loopbackHostsFile;
  if (!file || config.networkMode !== 'none') return config;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, LOOPBACK_HOSTS);
    await chmod(tmp, 0o644); // read by every job's user, whatever the umask
    await rename(tmp, file);
    return config;
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {}); // the half-made file, if any: its error is the one above
    log.error("writing the loopback hosts file failed; kernels without a network get the engine's sandbox", {
      file,
      err: String(err),
    });
    return { ...config, loopbackHostsFile: null };
  }
}
