// SAML service providers registered in the store (`cli add-rp`), beside those in
// relying-party files. A registered SP is the same relying-party JSON as a file, with its
// metadata inline, validated by the same schema and metadata checks (parseSamlSp,
// serviceProviderFrom) when it is added and again whenever a process loads it.
//
// Layout (durable keys, store/keys.ts):
//   saml:sp:{<digest of entityID>}   the record (SET NX: one per entityID)
//   saml:sp-id:{<id>}                the short id's claim (SET NX: ids unique)
//   saml:registered-sps              index: "<digest>.<revision>" per record
// Every process keeps the records it has read, and re-reads the index (one SMEMBERS) when
// its copy is older than a few seconds or an unknown SP is asked for (service-providers.ts).
// A new revision in the index (removed then added again) is read afresh.
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../config/settings.ts';
import { parseSamlSp, type SamlSpFile } from '../../config/relying-parties.ts';
import { keys, type Store } from '../../store/index.ts';

export interface RegisteredSpRecord {
  v: 1;
  rev: string;
  entityId: string;
  /** The relying-party JSON as validated, with "metadata" holding the XML itself. */
  rp: Record<string, unknown>;
  /** Where it came from: the file given to add-rp, and the metadata URL when there was one. */
  source: string;
  metadataUrl?: string;
  addedAt: string;
  addedBy: string;
}

export function entityDigest(entityId: string): string {
  return createHash('sha256').update(entityId).digest('base64url').slice(0, 32);
}

/** The relying-party file a record stands for (validated as a file is; errors name the origin). */
export function recordFile(record: RegisteredSpRecord): SamlSpFile {
  return parseSamlSp(record.rp, `store:${record.entityId}`);
}

export class RegistrationRefused extends Error {
  override name = 'RegistrationRefused';
}

/**
 * Stores a validated SP. Refused when its entityID or id is registered already. A create
 * that fails midway undoes what it wrote.
 */
export async function registerSp(store: Store, record: Omit<RegisteredSpRecord, 'v' | 'rev'>, id: string): Promise<RegisteredSpRecord> {
  const digest = entityDigest(record.entityId);
  const full: RegisteredSpRecord = { v: 1, rev: randomBytes(6).toString('hex'), ...record };
  if (!(await store.set(keys.samlRegisteredSpId(id), digest, { onlyIfAbsent: true }))) {
    throw new RegistrationRefused(`id: "${id}" is already registered in the store (cli list-rps)`);
  }
  let wroteRecord = false;
  try {
    if (!(await store.set(keys.samlRegisteredSp(digest), JSON.stringify(full), { onlyIfAbsent: true }))) {
      throw new RegistrationRefused(`metadata: entityID "${record.entityId}" is already registered in the store (cli list-rps)`);
    }
    wroteRecord = true;
    await store.setAdd(keys.samlRegisteredSps(), `${digest}.${full.rev}`);
    return full;
  } catch (err) {
    await Promise.allSettled([
      store.del(keys.samlRegisteredSpId(id)),
      ...(wroteRecord ? [store.del(keys.samlRegisteredSp(digest))] : []),
    ]);
    throw err;
  }
}

/** Reads one record by index member; null when it is gone or of another revision. */
export async function readRegistered(store: Store, member: string): Promise<RegisteredSpRecord | null> {
  const [digest, rev] = member.split('.');
  const raw = await store.get(keys.samlRegisteredSp(digest ?? ''));
  if (!raw) return null;
  const record = JSON.parse(raw) as RegisteredSpRecord;
  if (record.v !== 1) throw new ConfigError(`store:${record.entityId}: record version ${String(record.v)} is newer than this release reads`);
  return record.rev === rev ? record : null;
}

/** Every registered record (for listing). */
export async function registeredRecords(store: Store): Promise<RegisteredSpRecord[]> {
  const records: RegisteredSpRecord[] = [];
  for (const member of await store.setMembers(keys.samlRegisteredSps())) {
    const r = await readRegistered(store, member);
    if (r) records.push(r);
  }
  return records.sort((a, b) => a.entityId.localeCompare(b.entityId));
}

/** Removes a registered SP by entityID or id; the removed record, or null when there is none. */
export async function unregisterSp(store: Store, entityIdOrId: string): Promise<RegisteredSpRecord | null> {
  const record = (await registeredRecords(store)).find((r) => r.entityId === entityIdOrId || r.rp.id === entityIdOrId);
  if (!record) return null;
  const digest = entityDigest(record.entityId);
  // The index first: processes stop using it at their next look at the index.
  await store.setRemove(keys.samlRegisteredSps(), `${digest}.${record.rev}`);
  await store.del(keys.samlRegisteredSp(digest));
  await store.del(keys.samlRegisteredSpId(String(record.rp.id)));
  return record;
}

/** Metadata from a URL, once, when an SP is added (an operator's command: plain fetch, bounded). */
export async function fetchMetadata(url: string, timeoutMs = 10_000, maxBytes = 1_000_000): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
  } catch (err) {
    throw new ConfigError(`metadata: cannot fetch ${url} (${(err as Error).message})`);
  }
  if (!res.ok) throw new ConfigError(`metadata: cannot fetch ${url} (HTTP ${res.status})`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > maxBytes) throw new ConfigError(`metadata: ${url} is over ${maxBytes} bytes`);
  return body.toString('utf8');
}
