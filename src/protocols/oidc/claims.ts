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
