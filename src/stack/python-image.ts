import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { run, which } from './process-util.js';

/** The default kernel image, built from Debian packages when no registry can be reached. */
export const PYTHON_IMAGE = 'bai.local/python:3.11-bookworm';
export const PYTHON_LABELS: Record<string, string> = {
  'ai.backend.runtime-path': '/usr/bin/python3',
  'ai.backend.resource.min.cpu': '0.1',
  'ai.backend.resource.min.mem': '32m',
};

const RECIPE = [
  'mmdebstrap',
  '--variant=essential',
  '--include=python3',
  '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
  '--dpkgopt=path-exclude=/usr/share/man/*',
  '--dpkgopt=path-exclude=/usr/share/locale/*',
  '--dpkgopt=path-exclude=/usr/share/doc/*',
  'bookworm',
];

export function imageCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bai', 'images');
}

/**
 * Makes sure `docker -H host` has the python image: imports a cached root filesystem (about
 * 1.5 s), building it first with mmdebstrap when the cache has none (about 15–35 s, 96 MB).
 * The cache file is keyed by the recipe, so a changed recipe builds anew.
 */
export function ensurePythonImage(dockerHost: string, log: (msg: string) => void = () => {}): void {
  const docker = (args: string[], input?: string) =>
    run('docker', ['-H', dockerHost, ...args], input ? { input } : {});
  try {
    docker(['image', 'inspect', PYTHON_IMAGE]);
    return;
  } catch {
    // Expected: inspect fails when the image is not there yet: build or load it below.
  }
  const key = createHash('sha256').update(RECIPE.join(' ')).digest('hex').slice(0, 16);
  const dir = imageCacheDir();
  const tar = join(dir, `python-rootfs-${key}.tar`);
  if (!existsSync(tar)) {
    if (!which('mmdebstrap')) throw new Error('mmdebstrap not found: apt-get install mmdebstrap');
    mkdirSync(dir, { recursive: true });
    const free = statfsSync(dir);
    if (free.bavail * free.bsize < 1024 ** 3)
      throw new Error(`less than 1 GiB free in ${dir}: not building the python image`);
    log(`building the python kernel image with mmdebstrap (cached in ${tar})`);
    const tmp = join(dir, `.building-${key}-${process.pid}.tar`); // mmdebstrap picks its output format by extension
    try {
      run(RECIPE[0]!, [...RECIPE.slice(1), '--quiet', tmp, 'http://deb.debian.org/debian']);
      renameSync(tmp, tar);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const changes = [
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'ENV LANG=C.UTF-8',
    'CMD ["/usr/bin/python3"]',
    ...Object.entries(PYTHON_LABELS).map(([k, v]) => `LABEL ${k}=${v}`),
  ];
  docker(['import', ...changes.flatMap((c) => ['--change', c]), tar, PYTHON_IMAGE]);
}
