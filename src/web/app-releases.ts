// What an app received when it was given a sign-in (the access report of /admin, issue 29):
// from the audit event of that sign-in (oidc.authorized: the scopes granted; saml.assertion:
// the SP) and what the app's file allows now (an OIDC client's scope, a SAML SP's attributes
// and NameID format). Protocol knowledge composed here, so that src/admin knows none.
import type { Provider } from 'oidc-provider';
import { CLAIMS_BY_SCOPE, claimsAllowed } from '../protocols/oidc/claims.ts';
import type { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { ReleasesOf } from '../admin/access.ts';
import type { ReleasableApp } from '../admin/releases.ts';
import type { OidcClientFile } from '../config/relying-parties.ts';
import { ITEM_OF, RELEASE_ITEMS, type ReleaseItem } from '../domain/privacy/releases.ts';

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

/** The kinds of data claims or attributes are, in RELEASE_ITEMS order. */
function itemsOf(names: readonly string[]): ReleaseItem[] {
  return RELEASE_ITEMS.filter((item) => names.some((n) => ITEM_OF[n] === item));
}

/**
 * The apps administrators choose releases for (/admin/apps): OIDC clients of the files that
 * act for users, and SAML SPs (files and registered), each with what its file allows.
 */
export function releasableApps(deps: { clients: OidcClientFile[]; serviceProviders: ServiceProviders }): () => Promise<ReleasableApp[]> {
  return async () => {
    await deps.serviceProviders.refresh().catch(() => {});
    const oidc = deps.clients
      .filter((c) => (c.grant_types ?? ['authorization_code']).includes('authorization_code'))
      .map((c): ReleasableApp => {
        const allowed = claimsAllowed(c.scope);
        return { key: `oidc:${c.client_id}`, name: c.display_name, protocol: 'OIDC', allows: allowed ? itemsOf([...allowed]) : [...RELEASE_ITEMS] };
      });
    const saml = deps.serviceProviders.all().map((sp): ReleasableApp => ({
      key: `saml:${sp.id}`, name: sp.displayName, protocol: 'SAML',
      allows: itemsOf([...sp.attributes, ...(sp.nameIdFormat === 'emailAddress' ? ['mail'] : [])]),
    }));
    return [...oidc, ...saml].sort((a, b) => a.name.localeCompare(b.name));
  };
}
