// Authentication context classes (acr) this IdP speaks over OIDC, and what a request asks:
//   urn:school-idp:acr:pwd   a password (or a passkey without two factors: not issued)
//   urn:school-idp:acr:mfa   two-step sign-in: password and a second factor, or a passkey with user verification
//   urn:school-idp:acr:badge a sign-in badge (domain/badges/; with its PIN when it has one): below a password
// Asked by `acr_values` (voluntary: met when the account can, else the lower class is
// issued) or by the `claims` parameter's id_token.acr (essential: unmet is an error).
export const ACR_PWD = 'urn:school-idp:acr:pwd';
export const ACR_MFA = 'urn:school-idp:acr:mfa';
export const ACR_BADGE = 'urn:school-idp:acr:badge';
export const ACR_VALUES = [ACR_PWD, ACR_MFA, ACR_BADGE] as const;

export interface AcrRequest {
  /** Two-step sign-in is asked for. */
  mfa: boolean;
  /** …and nothing less will do (claims id_token.acr essential with only the MFA class). */
  essential: boolean;
}

function claimsAcr(raw: unknown): { essential?: boolean; value?: string; values?: string[] } | undefined {
  let claims = raw;
  if (typeof claims === 'string') {
    try {
      claims = JSON.parse(claims);
    } catch {
      return undefined;
    }
  }
  const acr = (claims as { id_token?: { acr?: unknown } } | undefined)?.id_token?.acr;
  return acr && typeof acr === 'object' ? (acr as { essential?: boolean; value?: string; values?: string[] }) : undefined;
}

/** What the authorization request's acr_values and claims ask for. */
export function requestedAcr(params: Record<string, unknown>): AcrRequest {
  const fromClaims = claimsAcr(params.claims);
  // Malformed members (oidc-provider refuses most of them itself) count as asking nothing.
  const values = Array.isArray(fromClaims?.values) ? fromClaims.values.filter((v): v is string => typeof v === 'string') : [];
  const claimed = values.length ? values : typeof fromClaims?.value === 'string' ? [fromClaims.value] : [];
  if (claimed.length > 0 && claimed.every((v) => v === ACR_MFA)) return { mfa: true, essential: fromClaims?.essential === true };
  const preferred = typeof params.acr_values === 'string' ? params.acr_values.split(' ').find((v) => (ACR_VALUES as readonly string[]).includes(v)) : undefined;
  return { mfa: preferred === ACR_MFA, essential: false };
}

/** The class an SSO session meets, from how it was authenticated (amr). */
export function acrOf(amr: readonly string[]): string {
  // A badge never meets more than a badge, whatever came after it.
  if (amr.includes('badge')) return ACR_BADGE;
  return amr.includes('mfa') ? ACR_MFA : ACR_PWD;
}

/**
 * The acr values an app insists on (claims parameter, id_token.acr essential), or null when it
 * does not: a session whose class is not among them cannot be answered with a code (oidc-provider
 * would ask for a login again and again); it gets unmet_authentication_requirements.
 */
export function essentialAcrValues(params: Record<string, unknown>): string[] | null {
  const acr = claimsAcr(params.claims);
  if (!acr || acr.essential !== true) return null;
  const values = Array.isArray(acr.values) ? acr.values.filter((v): v is string => typeof v === 'string') : typeof acr.value === 'string' ? [acr.value] : [];
  return values.length ? values : null;
}
