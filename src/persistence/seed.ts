import { newAccessKey, newSecret } from './catalog-store.js';
import type { Db } from './db.js';
import { PYTHON_IMAGE, PYTHON_LABELS } from '../stack/python-image.js';

/** The seeded `default` policy's pending limit (also the column's default since 20261128230100). */
export const DEFAULT_MAX_PENDING_SESSIONS = 1000;

export interface SeedResult {
  accessKey: string;
  secretKey: string;
  created: boolean;
}

/**
 * The defaults of a first try: domain `default` (registries bai.local and docker.io), resource
 * policy `default`, scaling group `default`, a superadmin keypair and the `python` alias. Safe to
 * run again: what exists is kept, and the existing admin keypair is returned.
 */
export async function seedDefaults(
  db: Db,
  keys: { accessKey?: string; secretKey?: string } = {},
): Promise<SeedResult> {
  return db.transaction(async (trx) => {
    await trx('domains')
      .insert({
        name: 'default',
        allowed_registries: JSON.stringify(['bai.local', 'docker.io']),
        allowed_storage: '["*"]',
      })
      .onConflict('name')
      .ignore();
    await trx('keypair_resource_policies')
      .insert({
        name: 'default',
        max_concurrent_sessions: 1000,
        max_pending_session_count: DEFAULT_MAX_PENDING_SESSIONS,
        max_priority: 100,
      })
      .onConflict('name')
      .ignore();
    await trx('scaling_groups')
      .insert({ name: 'default', description: 'default scaling group' })
      .onConflict('name')
      .ignore();
    await trx('images')
      .insert({ name: PYTHON_IMAGE, registry: 'bai.local', labels: JSON.stringify(PYTHON_LABELS) })
      .onConflict('name')
      .merge(['labels']);
    for (const alias of ['python', 'python:3.11', 'python3']) {
      await trx('image_aliases').insert({ alias, image: PYTHON_IMAGE }).onConflict('alias').merge();
    }
    const existing = await trx('keypairs')
      .where({ user_email: 'admin@bai.local', role: 'superadmin' })
      .first();
    if (existing && !keys.accessKey) {
      return {
        accessKey: existing.access_key as string,
        secretKey: existing.secret_key as string,
        created: false,
      };
    }
    const accessKey = keys.accessKey ?? newAccessKey();
    const secretKey = keys.secretKey ?? newSecret();
    await trx('keypairs')
      .insert({
        access_key: accessKey,
        secret_key: secretKey,
        user_email: 'admin@bai.local',
        domain_name: 'default',
        role: 'superadmin',
        resource_policy: 'default',
        webhook_secret: newSecret(),
      })
      .onConflict('access_key')
      .merge(['secret_key']);
    return { accessKey, secretKey, created: true };
  });
}
