import type { Db } from './db.js';
import type { KeypairRow } from './rows.js';

/** A bearer token's keypair, with the token's id and when it was last used. */
export type TokenKeypair = KeypairRow & { token_id: string; token_last_used_at: Date | null };

/** What authentication reads: keypairs by access key, unrevoked API tokens by hash. */
export class CredentialStore {
  constructor(private readonly db: Db) {}

  async keypair(accessKey: string): Promise<KeypairRow | undefined> {
    return this.db<KeypairRow>('keypairs').where({ access_key: accessKey }).first();
  }

  /** The keypair of an unrevoked token with this hash. */
  async byTokenHash(tokenHash: string): Promise<TokenKeypair | undefined> {
    return (await this.db('api_tokens as t')
      .join('keypairs as k', 'k.access_key', 't.access_key')
      .where('t.token_hash', tokenHash)
      .whereNull('t.revoked_at')
      .select('k.*', 't.id as token_id', 't.last_used_at as token_last_used_at')
      .first()) as TokenKeypair | undefined;
  }

  async markTokenUsed(tokenId: string): Promise<void> {
    await this.db('api_tokens').where({ id: tokenId }).update({ last_used_at: this.db.fn.now() });
  }
}
