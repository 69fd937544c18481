// Subject identifiers (OIDC Core 8): "public", the account's opaque id, the same at every app;
// or "pairwise", different at each app (its sector: the host of its redirect URIs), so that
// apps cannot link a child across them. A pairwise `sub` is an HMAC of the sector and the
// account under a key derived from the deployment's long-lived secret (keys/decoy-key.json,
// never rotated: an app's subs stay); without that key nobody can link two of them.
import { createHmac } from 'node:crypto';

/** The deployment's key for pairwise subjects, derived from its long-lived secret. */
export function pairwiseKey(deploymentSecret: string): string {
  return createHmac('sha256', deploymentSecret).update('oidc pairwise sub').digest('base64url');
}

/** The account's `sub` in one sector (32 hex characters, like the public ids' length class). An empty sector is refused (every host-less app would share it). */
export function pairwiseSub(key: string, sectorIdentifier: string, accountId: string): string {
  if (!sectorIdentifier) throw new Error('a pairwise subject needs a sector (the host of the redirect URIs)');
  return createHmac('sha256', key).update(`${sectorIdentifier}\n${accountId}`).digest('hex').slice(0, 32);
}

/** What oidc-provider's Client says of its subjects. */
export interface SubjectClient {
  subjectType?: string;
  sectorIdentifier?: string;
}

/** The `sub` an app knows the account by. */
export function subjectFor(key: string, client: SubjectClient | undefined, accountId: string): string {
  // The very computation oidc-provider's pairwiseIdentifier makes (provider.ts), so they always agree.
  return client?.subjectType === 'pairwise' ? pairwiseSub(key, String(client.sectorIdentifier ?? ''), accountId) : accountId;
}
