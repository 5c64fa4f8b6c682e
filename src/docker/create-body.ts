import { CONTAINER_HARDENING, type ContainerSpec } from '../domain/container-plan.js';

/** The body of the engine's `POST /containers/create` for a kernel's container spec. */
export function createBody(spec: ContainerSpec): Record<string, unknown> {
  const endpoints =
    spec.networkAliases.length > 0 ? { [spec.networkMode]: { Aliases: spec.networkAliases } } : undefined;
  return {
    Image: spec.image,
    Entrypoint: spec.entrypoint ?? undefined,
    Cmd: spec.cmd ?? undefined,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    WorkingDir: spec.workingDir,
    Hostname: spec.hostname,
    User: spec.user ?? undefined,
    NetworkDisabled: spec.networkDisabled ? true : undefined,
    HostConfig: {
      NanoCpus: Math.round(spec.nanoCpus),
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      PidsLimit: spec.pidsLimit,
      ShmSize: spec.shmBytes ?? undefined,
      NetworkMode: spec.networkMode,
      Privileged: CONTAINER_HARDENING.privileged,
      CapDrop: [...CONTAINER_HARDENING.capDrop],
      CapAdd: spec.capAdd,
      SecurityOpt: [...CONTAINER_HARDENING.securityOpt],
      Binds: spec.binds,
      Tmpfs: spec.tmpfs,
      Init: CONTAINER_HARDENING.init,
      LogConfig: { Type: CONTAINER_HARDENING.logDriver, Config: spec.logOptions },
    },
    NetworkingConfig: endpoints ? { EndpointsConfig: endpoints } : undefined,
  };
}
