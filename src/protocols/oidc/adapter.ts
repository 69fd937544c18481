// oidc-provider's storage adapter: artefacts on our Store (Redis or embedded; they may be
// lost: users sign in again), registrations in the directory's database (they may not).
// Contract (oidc-provider's example/my_adapter.js): upsert(id, payload, expiresIn),
// find, findByUid, findByUserCode, consume, destroy, revokeByGrantId.
// Every key gets a TTL: expiresIn when oidc-provider gives one, else MAX_TTL_S.
//
// Nothing stored can be replayed: every artefact is keyed by a SHA-256 of its id, and
// the payloads of bearer artefacts (codes and tokens) are stored without their id (`jti`),
// which find() puts back from the value the caller presented. A Redis dump, replica or
// AOF backup thus holds no usable code, access token or refresh token. Sessions keep their
// id (findByUid must return it); the session cookie is signed with the cookie keys, which
// live in keys/, not in Redis, so a session id alone is not a usable cookie either.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { keys, type Store } from '../../store/index.ts';
import type { Database } from '../../store/database/index.ts';
import { OidcRegistrations } from '../../store/directory/oidc-registrations.ts';

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
/**
 * Stored as a hash, so that consume() marks them in one step. A pushed authorization
 * request is one of them (RFC 9126: a request_uri is used once); before, it was stored as
 * a string and its consume() did nothing, so a request_uri could be used again.
 */
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest']);
/** Artefacts whose id is itself the credential a client or browser presents. */
const BEARER = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest', 'RegistrationAccessToken', 'InitialAccessToken']);
/** Upper bound for artefacts oidc-provider gives no lifetime (none should be durable). */
const MAX_TTL_S = 30 * 24 * 3600;
/** How long oidc-provider's session of a browser signed in to nobody is kept (its logout confirmation page). */
const ANONYMOUS_SESSION_MS = 10 * 60_000;
/**
 * In the directory's database, not in Redis: clients registered over HTTP (RFC 7591), the
 * tokens that manage them (RFC 7592) and the initial access tokens that let them register.
 * A Redis flush must not unregister an app. Their lifetime, when oidc-provider gives one,
 * is kept as an expiry.
 */
const REGISTRATIONS = new Set(['Client', 'RegistrationAccessToken', 'InitialAccessToken']);

/**
 * What one request of oidc-provider's has read, kept for the rest of that request:
 * - `sessions`: the sessions it read, as they were stored (JSON), by id. oidc-provider saves
 *   the session at the end of every request that had one, changed or not; a save of exactly
 *   what this request read is not written again (two Redis commands of every authorization
 *   with a live session). Its lifetime does not move either: a session's `exp` is fixed at
 *   sign-in (provider.ts, ttl.Session), so an unchanged payload is an unchanged expiry. A
 *   session another process wrote meanwhile is kept as that process left it, which is what
 *   this request would have written had it changed nothing.
 * - `ahead`: records asked for before oidc-provider asks, by model and id. A code, token or
 *   refresh token names its grant, which oidc-provider reads next, after the session the
 *   token is bound to (two more round trips): the grant is read at once, beside them. Used
 *   once; a write or removal of that record in the request drops it.
 */
interface RequestReads {
  sessions: Map<string, string>;
  ahead: Map<string, Promise<AdapterPayload | undefined>>;
}
const requestReads = new AsyncLocalStorage<RequestReads>();

/** Runs one request of oidc-provider's with its own memory of what it read (provider.use). */
export function withRequestReads<T>(next: () => Promise<T>): Promise<T> {
  return requestReads.run({ sessions: new Map(), ahead: new Map() }, next);
}

export function ttlMsFor(expiresIn: number | undefined): number {
  const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : MAX_TTL_S;
  return Math.ceil(Math.min(seconds, MAX_TTL_S) * 1000);
}

/** The one-way name under which a value is stored. */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function adapterFactory(store: Store, database: Database): new (name: string) => Adapter {
  const registrations = new OidcRegistrations(database);
  return class StoreAdapter implements Adapter {
    readonly name: string;

    constructor(name: string) {
      this.name = name;
    }

    #key(id: string): string {
      return keys.oidc(this.name, digest(id));
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.#key(id);
      const stored = BEARER.has(this.name) ? { ...payload, jti: undefined } : payload;
      const json = JSON.stringify(stored);
      const reads = requestReads.getStore();
      reads?.ahead.delete(`${this.name}:${id}`);
      const read = this.name === 'Session' ? reads?.sessions : undefined;
      if (read?.get(id) === json) return;
      if (REGISTRATIONS.has(this.name)) {
        const expiresAt = typeof expiresIn === 'number' && expiresIn > 0 ? new Date(Date.now() + expiresIn * 1000) : null;
        await registrations.put(this.name, digest(id), this.name === 'Client' ? id : null, stored, expiresAt);
        return;
      }
      // A session signed in to nobody (a logout confirmation asked for by a browser with no
      // session) lives as long as that page may, not the hours of a real one: a stranger's
      // request costs the store little, for little time.
      const ttlMs = this.name === 'Session' && !payload.accountId ? Math.min(ttlMsFor(expiresIn), ANONYMOUS_SESSION_MS) : ttlMsFor(expiresIn);
      // The record and its indexes in one step (store.putIndexed: one script on Redis); the
      // upsert fails, and the artefact is never handed out, unless all of them are written.
      const indexes: Array<{ key: string; member: string }> = [];
      if (GRANTABLE.has(this.name) && payload.grantId) indexes.push({ key: keys.oidcGrant(digest(payload.grantId)), member: key });
      if (this.name === 'Grant' && payload.accountId) indexes.push({ key: keys.accountGrants(payload.accountId), member: id });
      const writes: Array<Promise<unknown>> = [
        store.putIndexed(CONSUMABLE.has(this.name) ? { key, fields: { payload: json } } : { key, value: json }, ttlMs, indexes),
      ];
      if (payload.uid) writes.push(store.set(keys.oidcLookup('uid', digest(payload.uid)), id, { ttlMs }));
      if (payload.userCode) writes.push(store.set(keys.oidcLookup('userCode', digest(payload.userCode)), id, { ttlMs }));
      await Promise.all(writes);
      read?.set(id, json);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const reads = requestReads.getStore();
      const ahead = reads?.ahead.get(`${this.name}:${id}`);
      if (ahead) {
        reads!.ahead.delete(`${this.name}:${id}`);
        return ahead;
      }
      let payload: AdapterPayload | undefined;
      if (REGISTRATIONS.has(this.name)) {
        payload = ((await registrations.get(this.name, digest(id))) as AdapterPayload | null) ?? undefined;
        if (!payload) return undefined;
      } else if (CONSUMABLE.has(this.name)) {
        const hash = await store.hashGetAll(this.#key(id)).catch(async (err: Error) => {
          // A pushed request stored as a string by the previous release (they live a minute):
          // it is read as it is, and its first use removes it.
          if (this.name !== 'PushedAuthorizationRequest' || !/^WRONGTYPE/.test(err.message)) throw err;
          const raw = await store.get(this.#key(id));
          return raw === null ? null : ({ payload: raw } as Record<string, string>);
        });
        if (!hash?.payload) return undefined;
        payload = JSON.parse(hash.payload) as AdapterPayload;
        if (hash.consumed) payload.consumed = Number(hash.consumed);
      } else {
        const raw = await store.get(this.#key(id));
        if (!raw) return undefined;
        if (this.name === 'Session') reads?.sessions.set(id, raw);
        payload = JSON.parse(raw) as AdapterPayload;
      }
      if (reads && GRANTABLE.has(this.name) && typeof payload.grantId === 'string') this.#readAhead(reads, 'Grant', payload.grantId);
      return BEARER.has(this.name) ? { ...payload, jti: id } : payload;
    }

    /** Starts reading a record this request will ask for next (RequestReads). */
    #readAhead(reads: RequestReads, name: string, id: string): void {
      const key = `${name}:${id}`;
      if (reads.ahead.has(key)) return;
      const read = new StoreAdapter(name).find(id);
      read.catch(() => {}); // a failure reaches oidc-provider when it asks; never unhandled
      reads.ahead.set(key, read);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await store.get(keys.oidcLookup('uid', digest(uid)));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await store.get(keys.oidcLookup('userCode', digest(userCode)));
      return id ? this.find(id) : undefined;
    }

    async consume(id: string): Promise<void> {
      if (REGISTRATIONS.has(this.name)) {
        await registrations.consume(this.name, digest(id), Math.floor(Date.now() / 1000));
        return;
      }
      // Never create a consumed marker for an artefact that has expired or never was
      // (every artefact has a TTL, so one that exists has not expired): one step.
      const marked = await store.hashUpdate(this.#key(id), { consumed: String(Math.floor(Date.now() / 1000)) });
      // Not a hash: a pushed request the previous release stored as a string; used once.
      if (!marked && this.name === 'PushedAuthorizationRequest') await store.del(this.#key(id));
    }

    async destroy(id: string): Promise<void> {
      requestReads.getStore()?.ahead.delete(`${this.name}:${id}`);
      if (REGISTRATIONS.has(this.name)) await registrations.delete(this.name, digest(id));
      else await store.del(this.#key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const grantKey = keys.oidcGrant(digest(grantId));
      const members = await store.setMembers(grantKey);
      await Promise.all(members.map((k) => store.del(k)));
      await store.del(grantKey);
    }
  };
}

/** Revokes every OIDC grant of an account: its tokens and the grant itself. */
export async function revokeAccountGrants(store: Store, database: Database, accountId: string): Promise<number> {
  const Adapter = adapterFactory(store, database);
  const tokens = new Adapter('Grant');
  const index = keys.accountGrants(accountId);
  const grantIds = await store.setMembers(index);
  for (const grantId of grantIds) {
    await tokens.revokeByGrantId(grantId);
    await tokens.destroy(grantId);
    await store.setRemove(index, grantId);
  }
  return grantIds.length;
}

/** The clients registered over HTTP (RFC 7591), with their metadata (secrets left out). */
export async function registeredClients(store: Store, database: Database): Promise<Array<Record<string, unknown>>> {
  const Adapter = adapterFactory(store, database);
  const clients = new Adapter('Client');
  const out: Array<Record<string, unknown>> = [];
  for (const id of await new OidcRegistrations(database).clientIds()) {
    const metadata = await clients.find(id);
    if (!metadata) continue;
    const { client_secret, registration_access_token: _rat, ...rest } = metadata as Record<string, unknown>;
    out.push({ ...rest, client_secret_set: typeof client_secret === 'string' });
  }
  return out;
}

/** Removes a registered client; resolves false when there is none of that id. Its tokens expire by themselves. */
export async function removeRegisteredClient(store: Store, database: Database, clientId: string): Promise<boolean> {
  const clients = new (adapterFactory(store, database))('Client');
  if (!(await clients.find(clientId))) return false;
  await clients.destroy(clientId);
  return true;
}
