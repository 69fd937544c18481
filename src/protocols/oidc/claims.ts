// Claims released to OIDC clients, by scope:
//   email   -> email, email_verified
//   profile -> name, given_name, family_name, locale (the language the person signed in in, BCP 47)
//   school  -> school {code, name}, level (P1..JC2, or null for staff)
//   roles   -> roles (student, staff, school-admin, ministry-admin)
import type { OidcScope } from '../../config/relying-parties.ts';
import type { Account } from '../../domain/accounts/account.ts';
import { isLanguage, LANGUAGE_INFO } from '../../messages/catalogue.ts';

export const CLAIMS_BY_SCOPE = {
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'locale'],
  school: ['school', 'level'],
  roles: ['roles'],
} as const satisfies Record<Exclude<OidcScope, 'openid' | 'offline_access'>, readonly string[]>;

export function accountClaims(account: Account): Record<string, unknown> & { sub: string } {
  return {
    sub: account.id,
    email: account.loginId,
    email_verified: true,
    name: account.displayName,
    given_name: account.givenName,
    family_name: account.familyName,
    locale: LANGUAGE_INFO[isLanguage(account.language) ? account.language : 'en'].tag,
    school: { code: account.school.code, name: account.school.name },
    level: account.level,
    roles: account.roles,
  };
}

/**
 * The claims a client may receive at all: those of the scopes its file or registration allows
 * (`scope`; every scope when it says none). The claims parameter (OIDC Core 5.5) asks for
 * claims by name, past the scopes: without this, a client not allowed `email` could ask for
 * `{"id_token":{"email":null}}` and get the address.
 */
export function claimsAllowed(clientScope: string | undefined): ReadonlySet<string> | null {
  if (!clientScope) return null;
  const scopes = new Set(clientScope.split(' '));
  return new Set(Object.entries(CLAIMS_BY_SCOPE).flatMap(([scope, claims]) => (scopes.has(scope) ? [...claims] : [])));
}

/** The account's claims, less those the client may not receive (`sub` always stays). */
export function claimsFor(account: Account, clientScope: string | undefined): Record<string, unknown> & { sub: string } {
  const all = accountClaims(account);
  const allowed = claimsAllowed(clientScope);
  if (!allowed) return all;
  return Object.fromEntries(Object.entries(all).filter(([name]) => name === 'sub' || allowed.has(name))) as Record<string, unknown> & { sub: string };
}
