import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * dockerode loads, as it loads, a gRPC and protobuf stack (for BuildKit sessions of
 * `buildImage`) and, through docker-modem, ssh2 (for ssh:// engines; it instantiates a
 * WebAssembly module as it loads): about 10 MB of the agent's resident memory for features bai
 * never uses (it talks to unix:// and tcp:// engines and builds no image). Importing this module
 * before dockerode puts a stand-in for each of those two modules in the CommonJS cache: a
 * function that loads the real module on its first call and hands the call on, so a caller that
 * does use them sees no difference. Measured in docs/benchmarks.md, "Round two: CLI start and
 * footprint".
 */
function deferModule(path: string): void {
  if (require.cache[path]) return; // already loaded: nothing left to save
  let real: ((...args: unknown[]) => unknown) | null = null;
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = function deferred(this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      delete require.cache[path];
      real = require(path) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  require.cache[path] = stub;
}

// dockerode/lib/docker.js requires ./session; docker-modem/lib/modem.js requires ./ssh.
const dockerode = require.resolve('dockerode');
const modem = require.resolve('docker-modem', { paths: [dirname(dockerode)] });
deferModule(join(dirname(dockerode), 'session.js'));
deferModule(join(dirname(modem), 'ssh.js'));
