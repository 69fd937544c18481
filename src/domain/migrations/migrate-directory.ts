// Upgrading from a release that kept the directory in Redis (README "Upgrading"): copies it
// from that Redis into the database, with the IdP stopped. What is copied:
//   accounts (each record as stored, through dir:logins and {acct:<id>}; a record of the
//   previous version is read as it is and upgraded by its next write), with what the
//   directory derives from them (name search, passkeys);
//   the audit stream (oldest first, only into an empty audit table);
//   OIDC clients registered over HTTP with their registration access tokens, and live
//   initial access tokens (their remaining lifetime kept);
//   SAML service providers added with add-rp.
// Locks stay where they are (Redis keeps lockout state). Idempotent: every account is
// written with overwrite, so a run that stopped is simply run again. Nothing is deleted
// from Redis: once the new release runs, the old keys are left to the operator (README).
import type { Cluster, Redis } from 'ioredis';
import type { Account } from '../accounts/account.ts';
import type { Directory } from '../accounts/directory.ts';
import { keys, type RedisStore } from '../../store/index.ts';
import type { Database } from '../../store/database/index.ts';
import { OidcRegistrations } from '../../store/directory/oidc-registrations.ts';
import { SamlRegistrations } from '../../store/directory/saml-registrations.ts';

const PAGE = 500;

export class DirectoryNotEmptyError extends Error {
  override name = 'DirectoryNotEmptyError';
}
const PARALLEL = 16;

export interface DirectoryCopyCounts {
  accounts: number;
  /** In dir:logins without a record (deleted, or an interrupted create), or a record of another login ID. */
  skipped: number;
  audit: number;
  clients: number;
  registrationTokens: number;
  initialAccessTokens: number;
  serviceProviders: number;
}

export interface CopyOptions {
  /** Count what would be copied; write nothing. */
  dryRun?: boolean;
  /** Copy into a database that has accounts already (a run that stopped); without it that is refused. */
  force?: boolean;
  progress?: (counts: DirectoryCopyCounts) => void;
}

/** Every key of `pattern` (after the store's prefix) on every master: the previous release kept no index of these. */
async function scanKeys(store: RedisStore, pattern: string): Promise<string[]> {
  const client = store.client;
  const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${store.prefix}${pattern}`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch.map((k) => k.slice(store.prefix.length)));
    } while (cursor !== '0');
  }
  return found;
}

export async function copyDirectoryFromRedis(source: RedisStore, target: { database: Database; directory: Directory }, options: CopyOptions = {}): Promise<DirectoryCopyCounts> {
  const counts: DirectoryCopyCounts = { accounts: 0, skipped: 0, audit: 0, clients: 0, registrationTokens: 0, initialAccessTokens: 0, serviceProviders: 0 };
  const write = !options.dryRun;
  // Once the new release runs, the database is newer than Redis: copying again would put old
  // records back over changed ones. A run that stopped part-way is finished with force.
  const [{ n: present } = { n: 0 }] = await target.database.query<{ n: number }>('select count(*)::int as n from accounts');
  if (present > 0 && !options.force && !options.dryRun) throw new DirectoryNotEmptyError(`the database has ${present} account(s) already: migrate-directory copies into an empty directory (run it with --force only to finish a copy that stopped part-way, before the new release serves anyone)`);

  // Accounts, page by page through the login index (byte order, as export).
  let after: string | undefined;
  for (;;) {
    const page = await source.indexRange(keys.directoryIndex(), '', PAGE, after);
    if (!page.length) break;
    after = page[page.length - 1];
    for (let i = 0; i < page.length; i += PARALLEL) {
      await Promise.all(page.slice(i, i + PARALLEL).map(async (member) => {
        const [loginId = '', id = ''] = member.split('\u0000');
        const raw = id ? await source.get(keys.account(id)) : null;
        const record = raw ? (JSON.parse(raw) as Account) : null;
        if (!record || record.loginId !== loginId) {
          counts.skipped++;
          return;
        }
        if (write) await target.directory.restore(record, { overwrite: true });
        counts.accounts++;
      }));
    }
    options.progress?.(counts);
    if (page.length < PAGE) break;
  }

  // The audit trail, oldest first, into an empty table only (a second run does not double it).
  const [{ n } = { n: 0 }] = await target.database.query<{ n: number }>('select count(*)::int as n from audit_events');
  if (n === 0) {
    const events: Array<Record<string, string>> = [];
    let before: string | undefined;
    for (;;) {
      const entries = await source.streamRange(keys.audit(), PAGE, before);
      if (!entries.length) break;
      events.push(...entries.map((e) => e.fields));
      before = entries[entries.length - 1]!.id;
    }
    for (const fields of events.reverse()) {
      if (write) await target.database.query('insert into audit_events (event) values ($1)', [JSON.stringify(fields)]);
      counts.audit++;
    }
  }

  // OIDC registrations: kept under the digest of their id, as the previous release did.
  const registrations = new OidcRegistrations(target.database);
  const listed = new Set(await source.setMembers(keys.oidcRegisteredClients()));
  const models: Array<[string, 'clients' | 'registrationTokens' | 'initialAccessTokens']> = [['Client', 'clients'], ['RegistrationAccessToken', 'registrationTokens'], ['InitialAccessToken', 'initialAccessTokens']];
  for (const [model, counter] of models) {
    for (const key of await scanKeys(source, `oidc:${model}:{*}`)) {
      const [raw, ttl] = await Promise.all([source.get(key), source.ttl(key)]);
      if (!raw || ttl === -2) continue;
      const payload = JSON.parse(raw) as Record<string, unknown>;
      const digest = key.slice(`oidc:${model}:{`.length, -1);
      const clientId = model === 'Client' && typeof payload.client_id === 'string' ? payload.client_id : null;
      // A client the previous release had removed from its list was being removed: not copied.
      if (model === 'Client' && (!clientId || !listed.has(clientId))) continue;
      if (write) await registrations.put(model, digest, clientId, payload, ttl > 0 ? new Date(Date.now() + ttl) : null);
      counts[counter]++;
    }
  }

  // SAML service providers added with add-rp.
  const sps = new SamlRegistrations(target.database);
  for (const member of await source.setMembers(keys.samlRegisteredSps())) {
    const [digest = '', rev = ''] = member.split('.');
    const raw = await source.get(keys.samlRegisteredSp(digest));
    const record = raw ? (JSON.parse(raw) as { rev?: string; rp?: { id?: unknown } }) : null;
    if (!record || record.rev !== rev) continue;
    if (write && !(await sps.get(digest))) await sps.insert(digest, String(record.rp?.id), rev, record);
    counts.serviceProviders++;
  }
  options.progress?.(counts);
  return counts;
}
