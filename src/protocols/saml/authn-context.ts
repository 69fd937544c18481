// RequestedAuthnContext (SAML core §3.3.2.2.1) and the AuthnContextClassRef of the
// assertion: what the SP asks for, whether it needs two-step sign-in, and which class the
// response names. Classes are ranked by strength; unknown classes cannot be met.
//   0  unspecified
//   1  Password, PasswordProtectedTransport, urn:school-idp:acr:pwd
//   2  https://refeds.org/profile/mfa (REFEDS MFA, common in education), urn:school-idp:acr:mfa
import { AUTHN_PASSWORD_PROTECTED, NS } from './constants.ts';
import { childElement } from './xml.ts';

export const AC_UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
export const AC_PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password';
export const AC_REFEDS_MFA = 'https://refeds.org/profile/mfa';
export const AC_SCHOOL_MFA = 'urn:school-idp:acr:mfa';
export const AC_SCHOOL_PWD = 'urn:school-idp:acr:pwd';

const STRENGTH: Record<string, number> = {
  [AC_UNSPECIFIED]: 0,
  [AC_PASSWORD]: 1,
  [AUTHN_PASSWORD_PROTECTED]: 1,
  [AC_SCHOOL_PWD]: 1,
  [AC_REFEDS_MFA]: 2,
  [AC_SCHOOL_MFA]: 2,
};

export type Comparison = 'exact' | 'minimum' | 'maximum' | 'better';

export interface RequestedAuthnContext {
  comparison: Comparison;
  classes: string[];
}

/** The AuthnRequest's RequestedAuthnContext (class references only), if any. */
export function requestedAuthnContext(request: Element): RequestedAuthnContext | undefined {
  const rac = childElement(request, NS.protocol, 'RequestedAuthnContext');
  if (!rac) return undefined;
  const raw = rac.getAttribute('Comparison');
  const comparison: Comparison = raw === 'minimum' || raw === 'maximum' || raw === 'better' ? raw : 'exact';
  const classes: string[] = [];
  for (let n = rac.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === NS.assertion && (n as Element).localName === 'AuthnContextClassRef') classes.push((n.textContent ?? '').trim());
  }
  return { comparison, classes };
}

/**
 * What a request needs of the session: `none` (a password will do), `mfa`, or `impossible`
 * (no class this IdP issues meets it: NoAuthnContext).
 */
export function neededStrength(requested: RequestedAuthnContext | undefined): 'none' | 'mfa' | 'impossible' {
  if (!requested || requested.classes.length === 0) return 'none';
  const known = requested.classes.map((c) => STRENGTH[c]).filter((s): s is number => s !== undefined);
  switch (requested.comparison) {
    case 'exact':
      if (known.length === 0) return 'impossible';
      return known.some((s) => s <= 1) ? 'none' : 'mfa';
    case 'minimum': {
      if (known.length === 0) return 'impossible';
      return Math.min(...known) >= 2 ? 'mfa' : 'none';
    }
    case 'better': {
      if (known.length !== requested.classes.length) return 'impossible';
      const max = Math.max(...known);
      return max >= 2 ? 'impossible' : max === 1 ? 'mfa' : 'none';
    }
    case 'maximum':
      return known.length === 0 ? 'impossible' : 'none';
  }
}

/**
 * The class the assertion names, within what was asked, for a session that used two-step
 * sign-in (`mfa`) and a password (`password`) or not: a password class is named only when a
 * password was used (a passkey alone is not "PasswordProtectedTransport").
 */
export function classRefFor(requested: RequestedAuthnContext | undefined, session: { mfa: boolean; password: boolean }): string {
  const asked = requested?.classes ?? [];
  const level = session.mfa ? 2 : 1;
  const fits = (c: string) => {
    const s = STRENGTH[c];
    if (s === undefined) return false;
    if (s === 1 && !session.password) return false;
    switch (requested?.comparison ?? 'exact') {
      case 'exact':
      case 'maximum':
        return s <= level;
      default:
        return true;
    }
  };
  // Exactly what the SP named when that is true of this session; else what happened.
  const named = asked.filter(fits).sort((a, b) => STRENGTH[b]! - STRENGTH[a]!)[0];
  if (named && requested?.comparison !== 'minimum' && requested?.comparison !== 'better') return named;
  if (session.mfa) return asked.includes(AC_SCHOOL_MFA) ? AC_SCHOOL_MFA : AC_REFEDS_MFA;
  // Neither a password nor two steps (a sign-in badge): no class claims more than that.
  return session.password ? AUTHN_PASSWORD_PROTECTED : AC_UNSPECIFIED;
}

/** What a session's sign-in was, from its amr: two steps (never with a badge), and whether a password was used. */
export function sessionStrength(amr: readonly string[]): { mfa: boolean; password: boolean } {
  return { mfa: amr.includes('mfa') && !amr.includes('badge'), password: amr.includes('pwd') };
}

/**
 * Whether a session with neither a password nor two steps (a sign-in badge: strength 0) meets
 * what was asked: only when nothing was asked, when "unspecified" is acceptable, or when the
 * comparison is "maximum". Anything else is NoAuthnContext (SAML core 3.3.2.2.1), never
 * a Success naming less than was asked.
 */
export function metWithoutPassword(requested: RequestedAuthnContext | undefined): boolean {
  if (!requested || requested.classes.length === 0) return true;
  if (requested.comparison === 'maximum') return true;
  return requested.comparison !== 'better' && requested.classes.includes(AC_UNSPECIFIED);
}
