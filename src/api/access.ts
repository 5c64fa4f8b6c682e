import { Forbidden, InsufficientPrivilege } from '../domain/errors.js';
import type { Principal } from './auth.js';

/**
 * Role rules of the admin REST routes: a user sees their own keypair and tokens; an admin acts
 * within their own domain; a superadmin everywhere. Routes that only administrators may call
 * answer 403 generic-forbidden to users; acting outside one's domain is 403
 * insufficient-privilege.
 */
export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin' && p.role !== 'superadmin')
    throw new Forbidden('This operation is for administrators.');
}

export function requireSuperadmin(p: Principal): void {
  if (p.role !== 'superadmin') throw new Forbidden('This operation is for superadmins.');
}

/** The domain an admin's request is confined to (null: every domain, for superadmins). */
export function domainScope(p: Principal, requested: string | undefined): string | null {
  requireAdmin(p);
  if (p.role === 'superadmin') return requested ?? null;
  if (requested !== undefined && requested !== p.domain)
    throw new InsufficientPrivilege('Admins act only within their own domain.');
  return p.domain;
}

/** Whether `p` may manage a keypair of `domain` (itself always). */
export function mayManageKeypair(
  p: Pick<Principal, 'accessKey' | 'role' | 'domain'>,
  accessKey: string,
  domain: string,
): boolean {
  if (p.accessKey === accessKey) return true;
  if (p.role === 'superadmin') return true;
  return p.role === 'admin' && p.domain === domain;
}
