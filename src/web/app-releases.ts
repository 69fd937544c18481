// What an app received when it was given a sign-in (the access report of /admin, issue 29):
// from the audit event of that sign-in (oidc.authorized: the scopes granted; saml.assertion:
// the SP) and what the app's file allows now (an OIDC client's scope, a SAML SP's attributes
// and NameID format). Protocol knowledge composed here, so that src/admin knows none.
import type { Provider } from 'oidc-provider';
import { CLAIMS_BY_SCOPE, claimsAllowed } from '../protocols/oidc/claims.ts';
import type { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { ReleasesOf } from '../admin/access.ts';

export function appReleases(deps: { provider: () => Provider; serviceProviders: ServiceProviders; nameOf: (id: string) => string }): ReleasesOf {
  return async (event) => {
    if (!event.client) return null;
    if (event.type === 'oidc.authorized') {
      const client = await deps.provider().Client.find(event.client);
      const allowed = claimsAllowed((client as { scope?: string } | undefined)?.scope);
      const scopes = (event.reason ?? '').replace(/^scope /, '').split(' ');
      const claims = scopes.flatMap((s) => (Object.hasOwn(CLAIMS_BY_SCOPE, s) ? [...CLAIMS_BY_SCOPE[s as keyof typeof CLAIMS_BY_SCOPE]] : [])).filter((c) => !allowed || allowed.has(c));
      const named = deps.nameOf(event.client);
      const sub = (client as { subjectType?: string } | undefined)?.subjectType === 'pairwise' ? 'sub (pairwise)' : 'sub';
      return { app: named !== event.client ? named : (client?.clientName ?? event.client), protocol: 'OIDC', receives: [sub, ...claims] };
    }
    if (event.type === 'saml.assertion') {
      const sp = await deps.serviceProviders.findById(event.client);
      if (!sp) return { app: event.client, protocol: 'SAML', receives: [] };
      return { app: sp.displayName, protocol: 'SAML', receives: [`NameID (${sp.nameIdFormat})`, ...sp.attributes] };
    }
    return null;
  };
}
