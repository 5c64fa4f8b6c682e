import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envFileOf, readEnvFile, writeEnvFile } from '../../src/config/env-file.js';

test('.bai/env: what writeEnvFile writes, readEnvFile reads back, quotes and all', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-env-'));
  try {
    const file = envFileOf(dir);
    const vars = {
      BACKEND_ENDPOINT: 'http://127.0.0.1:8091',
      BACKEND_SECRET_KEY: "it's a secret with spaces & $signs",
      EMPTY: '',
    };
    writeEnvFile(file, vars);
    t.deepEqual(readEnvFile(file), vars);
    t.regex(readFileSync(file, 'utf8'), /^export BACKEND_ENDPOINT=http:\/\/127\.0\.0\.1:8091$/m);
    t.is(statSync(file).mode & 0o777, 0o600, 'only the owner reads the keys');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.bai/env: a missing file is empty; lines without export, double quotes and junk are read as a shell would', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-env-'));
  try {
    t.deepEqual(readEnvFile(join(dir, 'none')), {});
    const file = join(dir, 'env');
    writeFileSync(file, 'A=1\n  export B="two words"\n# a comment\nnot a line\n');
    t.deepEqual(readEnvFile(file), { A: '1', B: 'two words' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
