// SAML service providers registered in the store, without restarting the IdP:
// `add-rp <file.json>` (a SAML file: its metadata a file beside it, inline XML, or an
// http(s) URL fetched once now), `list-rps`, `remove-rp <entityID|id>`. Each is validated
// exactly as a relying-party file is (parseSamlSp, serviceProviderFrom) and refused when
// a file defines the same entityID or id. Every running IdP process uses the change
// within seconds (protocols/saml/service-providers.ts).
import { userInfo } from 'node:os';
import { loadRelyingParties, parseSamlSp } from '../config/relying-parties.ts';
import { fetchMetadata, registeredRecords, registerSp, RegistrationRefused, unregisterSp } from '../protocols/saml/registered-sps.ts';
import { serviceProviderFrom, ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { Services } from '../services.ts';
import type { Store } from '../store/index.ts';

export const RPS_USAGE = `  add-rp <file.json>                                   OIDC: copy it into IDP_RP_DIR (restart to load);
                                                       SAML: register it in the store, used by every IdP process at once
                                                       (metadata: a file beside it, the XML, or an https URL fetched now)
  list-rps                                             every SAML SP (files and registered) and OIDC client file, as JSON
  remove-rp <entityID|id>                              remove a SAML SP registered with add-rp`;

export class RpsUsageError extends Error {}

const URL_METADATA = /^https?:\/\//i;

type Open = (command: string) => Promise<{ store: Store; services: Services; rpDirs: string[]; close?: () => Promise<void> }>;

/** The file's JSON with a metadata URL replaced by the XML it serves (validate-rp and add-rp). */
export async function withFetchedMetadata(data: unknown): Promise<{ data: unknown; metadataUrl?: string }> {
  const d = data as { protocol?: unknown; metadata?: unknown } | null;
  if (d?.protocol !== 'saml' || typeof d.metadata !== 'string' || !URL_METADATA.test(d.metadata.trim())) return { data };
  const metadataUrl = d.metadata.trim();
  return { data: { ...d, metadata: await fetchMetadata(metadataUrl) }, metadataUrl };
}

export async function addSamlSp(data: unknown, file: string, metadataUrl: string | undefined, out: (line: string) => void, open: Open): Promise<number> {
  // The same checks as a file at start-up: the schema, then the metadata.
  const rp = parseSamlSp(data, file);
  const sp = serviceProviderFrom(rp, 80);
  const { store, services, rpDirs, close } = await open('add-rp');
  try {
    const files = loadRelyingParties(rpDirs);
    const fileSps = new ServiceProviders(files.saml, 80);
    const sameEntity = fileSps.byEntityId(sp.entityId);
    if (sameEntity) throw new RpsUsageError(`${file}: metadata: entityID "${sp.entityId}" is defined in ${sameEntity.file}; a registered SP cannot replace a file's`);
    const sameId = [...files.saml.map((s) => ({ id: s.id, file: s.file })), ...files.oidc.map((c) => ({ id: c.client_id, file: c.file }))].find((r) => r.id === rp.id);
    if (sameId) throw new RpsUsageError(`${file}: id: "${rp.id}" is already defined in ${sameId.file}`);
    const { file: _file, metadataXml, ...fields } = rp;
    const actor = `cli:${userInfo().username}`;
    try {
      await registerSp(services.database, {
        entityId: sp.entityId,
        rp: { ...(data as Record<string, unknown>), ...fields, metadata: metadataXml },
        source: file,
        ...(metadataUrl ? { metadataUrl } : {}),
        addedAt: new Date().toISOString(),
        addedBy: actor,
      }, rp.id);
    } catch (err) {
      if (err instanceof RegistrationRefused) throw new RpsUsageError(`${file}: ${err.message}`);
      throw err;
    }
    await services.audit.record({ type: 'rp.registered', client: rp.id, actor, reason: `saml ${sp.entityId}${metadataUrl ? ` (metadata ${metadataUrl})` : ''}` });
    out(`registered saml service provider "${rp.id}" (${rp.display_name}), entityID ${sp.entityId}, ACS ${sp.acs.map((e) => e.location).join(' ')}`);
    out('every IdP process on this store uses it now (no restart); remove with: remove-rp ' + sp.entityId);
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}

export async function listRps(out: (line: string) => void, open: Open): Promise<number> {
  const { store, services, rpDirs, close } = await open('list-rps');
  try {
    const files = loadRelyingParties(rpDirs);
    const fileSps = new ServiceProviders(files.saml, 80).all();
    const registered = await registeredRecords(services.database);
    const describe = (sp: ReturnType<typeof serviceProviderFrom>) => ({ id: sp.id, display_name: sp.displayName, entityID: sp.entityId, acs: sp.acs.map((e) => e.location), slo: sp.slo.map((e) => e.location) });
    const saml = [
      ...fileSps.map((sp) => ({ origin: 'file', file: sp.file, ...describe(sp) })),
      ...registered.map((r) => {
        try {
          const sp = serviceProviderFrom(parseSamlSp(r.rp, `store:${r.entityId}`), 80);
          return { origin: 'store', ...describe(sp), source: r.source, ...(r.metadataUrl ? { metadata_url: r.metadataUrl } : {}), added_at: r.addedAt, added_by: r.addedBy };
        } catch (err) {
          return { origin: 'store', entityID: r.entityId, error: (err as Error).message };
        }
      }),
    ];
    const oidc = files.oidc.map((c) => ({ origin: 'file', file: c.file, client_id: c.client_id, display_name: c.display_name, redirect_uris: c.redirect_uris }));
    out(JSON.stringify({ saml, oidc, note: 'OIDC clients registered over HTTP: cli clients' }, null, 2));
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}

export async function removeRp(target: string | undefined, out: (line: string) => void, open: Open): Promise<number> {
  if (!target) throw new RpsUsageError('remove-rp needs the entityID (or id) of a registered SAML SP');
  const { store, services, rpDirs, close } = await open('remove-rp');
  try {
    const files = loadRelyingParties(rpDirs);
    const inFile = files.saml.find((s) => s.id === target) ?? new ServiceProviders(files.saml, 80).byEntityId(target);
    const removed = await unregisterSp(services.database, target);
    if (!removed) {
      if (inFile) throw new RpsUsageError(`${target} is defined in ${inFile.file}, not registered in the store: remove the file and restart`);
      throw new RpsUsageError(`no registered SAML SP ${target} (cli list-rps)`);
    }
    const actor = `cli:${userInfo().username}`;
    await services.audit.record({ type: 'rp.removed', client: String(removed.rp.id), actor, reason: `saml ${removed.entityId}` });
    out(`removed ${removed.entityId} ("${String(removed.rp.id)}"); every IdP process refuses it within seconds`);
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}
