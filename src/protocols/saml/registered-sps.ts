// SAML service providers registered in the store (`cli add-rp`), beside those in
// relying-party files. A registered SP is the same relying-party JSON as a file, with its
// metadata inline, validated by the same schema and metadata checks (parseSamlSp,
// serviceProviderFrom) when it is added and again whenever a process loads it.
//
// Kept in the directory's database (store/directory/saml-registrations.ts): one row per
// entityID, ids unique, each with a revision; processes know records as "<digest>.<revision>".
// Every process keeps the records it has read, and re-reads the list (one query) when
// its copy is older than a few seconds or an unknown SP is asked for (service-providers.ts).
// A new revision in the index (removed then added again) is read afresh.
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../config/settings.ts';
import { parseSamlSp, type SamlSpFile } from '../../config/relying-parties.ts';
import type { Database } from '../../store/database/index.ts';
import { SamlRegistrations, SpTakenError } from '../../store/directory/saml-registrations.ts';

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

/** Stores a validated SP. Refused when its entityID or id is registered already. */
export async function registerSp(database: Database, record: Omit<RegisteredSpRecord, 'v' | 'rev'>, id: string): Promise<RegisteredSpRecord> {
  const full: RegisteredSpRecord = { v: 1, rev: randomBytes(6).toString('hex'), ...record };
  try {
    await new SamlRegistrations(database).insert(entityDigest(record.entityId), id, full.rev, full);
  } catch (err) {
    if (!(err instanceof SpTakenError)) throw err;
    throw new RegistrationRefused(err.field === 'id' ? `id: "${id}" is already registered in the store (cli list-rps)` : `metadata: entityID "${record.entityId}" is already registered in the store (cli list-rps)`);
  }
  return full;
}

/** Reads one record by its member ("<digest>.<rev>"); null when it is gone or of another revision. */
export async function readRegistered(database: Database, member: string): Promise<RegisteredSpRecord | null> {
  const [digest, rev] = member.split('.');
  const record = (await new SamlRegistrations(database).get(digest ?? '')) as RegisteredSpRecord | null;
  if (!record) return null;
  if (record.v !== 1) throw new ConfigError(`store:${record.entityId}: record version ${String(record.v)} is newer than this release reads`);
  return record.rev === rev ? record : null;
}

/** Every registered SP as "<digest>.<rev>" (what processes compare with the copies they hold). */
export function registeredMembers(database: Database): Promise<string[]> {
  return new SamlRegistrations(database).members();
}

/** Every registered record (for listing). */
export async function registeredRecords(database: Database): Promise<RegisteredSpRecord[]> {
  const records: RegisteredSpRecord[] = [];
  for (const member of await registeredMembers(database)) {
    const r = await readRegistered(database, member);
    if (r) records.push(r);
  }
  return records.sort((a, b) => a.entityId.localeCompare(b.entityId));
}

/** Removes a registered SP by entityID or id; the removed record, or null when there is none. */
export async function unregisterSp(database: Database, entityIdOrId: string): Promise<RegisteredSpRecord | null> {
  const record = (await registeredRecords(database)).find((r) => r.entityId === entityIdOrId || r.rp.id === entityIdOrId);
  if (!record) return null;
  await new SamlRegistrations(database).delete(entityDigest(record.entityId));
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
