import { randomUUID } from 'node:crypto';
import type { SessionTemplate, TemplateItem } from '../domain/session-template.js';
import type { Db } from './db.js';

export interface TemplateRow {
  id: string;
  name: string;
  owner_access_key: string;
  domain_name: string;
  group_name: string | null;
  template: SessionTemplate;
  is_active: boolean;
  created_at: Date;
  updated_at: Date | null;
}

/** A template row with its owner's e-mail, for listings. */
export interface TemplateListRow extends TemplateRow {
  user_email: string;
}

/** Who a listing is for: one keypair's templates, a domain's, or every one (null, null). */
export interface TemplateScope {
  ownerAccessKey: string | null;
  domain: string | null;
}

/**
 * Session templates. Reads return active templates only (a deleted one is deactivated, as in
 * Backend.AI); who may see which is the routes' decision (src/api/access.ts).
 */
export class TemplateStore {
  constructor(private readonly db: Db) {}

  /** Stores every template of one payload in one INSERT (all or none); their ids in payload order. */
  async create(
    items: TemplateItem[],
    owner: { access_key: string; domain_name: string },
    group: string | null,
  ): Promise<string[]> {
    const rows = items.map((it) => ({
      id: randomUUID(),
      name: it.name,
      owner_access_key: owner.access_key,
      domain_name: owner.domain_name,
      group_name: group,
      template: JSON.stringify(it.template),
    }));
    await this.db('session_templates').insert(rows);
    return rows.map((r) => r.id);
  }

  async get(id: string): Promise<TemplateRow | null> {
    const row = (await this.db('session_templates').where({ id, is_active: true }).first()) as
      TemplateRow | undefined;
    return row ?? null;
  }

  async list(scope: TemplateScope): Promise<TemplateListRow[]> {
    let q = this.db('session_templates as t')
      .join('keypairs as k', 'k.access_key', 't.owner_access_key')
      .where('t.is_active', true)
      .orderBy('t.created_at')
      .orderBy('t.id')
      .select('t.*', 'k.user_email');
    if (scope.ownerAccessKey !== null) q = q.where('t.owner_access_key', scope.ownerAccessKey);
    if (scope.domain !== null) q = q.where('t.domain_name', scope.domain);
    return (await q) as TemplateListRow[];
  }

  /** Replaces the document (and name, and group when given); false when it is gone. */
  async update(id: string, item: TemplateItem, group: string | undefined): Promise<boolean> {
    const n = await this.db('session_templates')
      .where({ id, is_active: true })
      .update({
        name: item.name,
        template: JSON.stringify(item.template),
        ...(group !== undefined ? { group_name: group } : {}),
        updated_at: this.db.fn.now(),
      });
    return n > 0;
  }

  async deactivate(id: string): Promise<boolean> {
    const n = await this.db('session_templates')
      .where({ id, is_active: true })
      .update({ is_active: false, updated_at: this.db.fn.now() });
    return n > 0;
  }
}
