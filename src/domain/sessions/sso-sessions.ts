// The single sign-on session shared by OIDC clients, SAML service providers and the
// portal. It ends after `idleMs` without activity and at `absoluteMs` after sign-in,
// whichever comes first; activity moves the idle end, never past the maximum. Both ends
// are checked against the clock on every read (tests move time instead of sleeping); the
// store's TTL only cleans up.
import { keys, type Store } from '../../store/index.ts';
import { JsonRecords } from '../../store/records.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';

/** A SAML service provider this session signed in to: what its LogoutRequest will say. */
export interface SamlParticipant {
  spId: string;
  nameId: string;
  sessionIndex: string;
  since: number;
}

/** Field of the participants hash that lists the OIDC clients of the session. */
const OIDC_FIELD = '@oidc';

/** Who took part in an SSO session. */
export interface SessionParticipants {
  /** SAML SPs in the order they joined. */
  saml: SamlParticipant[];
  /** OIDC clients that signed in with it. */
  oidc: string[];
  /** uids of the oidc-provider sessions that signed in with it (their clients and sids). */
  oidcSessions: string[];
}

/** A session ended by `endAllFor`, with who took part in it (read before it was deleted). */
export interface EndedSession {
  id: string;
  /** Whether it was still live (not idle-expired) when it ended. */
  live: boolean;
  participants: SessionParticipants;
}

export interface SsoSession {
  id: string;
  accountId: string;
  /** When the password was last verified in this session (ms). */
  authTime: number;
  amr: string[];
  createdAt: number;
  expiresAt: number;
  /** Ends here without activity (absent in records of the previous release: the TTL decided). */
  idleUntil?: number;
  /** When a second factor was last verified in this session (amr then includes "mfa"). */
  mfaAt?: number;
}

export class SsoSessions {
  readonly #store: Store;
  readonly #records: JsonRecords<SsoSession>;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  /** OIDC sessions this process has recorded on their SSO session ("sso-id uid"), at most 10,000. */
  readonly #oidcRecorded = new Set<string>();

  constructor(store: Store, clock: Clock, idleMs: number, absoluteMs: number) {
    this.#store = store;
    this.#records = new JsonRecords(store, keys.ssoSession, /^[A-Za-z0-9_-]{20,64}$/);
    this.#clock = clock;
    this.#idleMs = idleMs;
    this.#absoluteMs = absoluteMs;
  }

  get idleMs(): number {
    return this.#idleMs;
  }

  /** A new session after a sign-in; `authTime` is when the password was verified (default now). */
  async create(accountId: string, amr: string[], authTime?: number, mfaAt?: number): Promise<SsoSession> {
    const now = this.#clock();
    const expiresAt = now + this.#absoluteMs;
    const session: SsoSession = { id: newId(32), accountId, authTime: authTime ?? now, amr, createdAt: now, expiresAt, idleUntil: Math.min(now + this.#idleMs, expiresAt), ...(mfaAt === undefined ? {} : { mfaAt }) };
    await this.#records.put(session, Math.min(this.#idleMs, this.#absoluteMs));
    await this.#store.setAdd(keys.accountSsoSessions(accountId), session.id, this.#absoluteMs);
    return session;
  }

  /**
   * The password was entered again in this session (prompt=login, max_age, ForceAuthn, /admin):
   * the session continues under a new id (as after any sign-in, so an id seen before is worth
   * nothing now), with the same account and participants, and the new authentication time.
   */
  async renew(session: SsoSession, authTime: number, amr: string[], mfaAt?: number): Promise<SsoSession> {
    const next = await this.create(session.accountId, amr, authTime, mfaAt);
    const participants = await this.#store.hashGetAll(keys.ssoParticipants(session.id));
    if (participants && Object.keys(participants).length > 0) {
      await this.#store.hashSet(keys.ssoParticipants(next.id), participants, this.#absoluteMs);
    }
    await this.end(session.id);
    await this.#store.setRemove(keys.accountSsoSessions(session.accountId), session.id);
    return next;
  }

  /** The live session, or null when absent, idle-expired or past its maximum age (by the clock). */
  async get(id: string | undefined): Promise<SsoSession | null> {
    const session = await this.#records.get(id);
    if (!session) return null;
    const now = this.#clock();
    if (session.expiresAt <= now || (session.idleUntil !== undefined && session.idleUntil <= now)) {
      await this.#records.delete(id!);
      return null;
    }
    return session;
  }

  /**
   * Records activity: the session lives `idleMs` more, capped by its maximum age. Written
   * only when that moves the idle end by more than a twentieth of the idle time (a busy
   * session is not rewritten on every request), and only over the record as it was read
   * (a session ended meanwhile stays ended).
   */
  async touch(session: SsoSession): Promise<void> {
    const now = this.#clock();
    const idleUntil = Math.min(now + this.#idleMs, session.expiresAt);
    if (idleUntil <= now) return;
    if (session.idleUntil !== undefined && idleUntil - session.idleUntil < this.#idleMs / 20) return;
    const next = { ...session, idleUntil };
    if (await this.#records.replace(session, next)) {
      await this.#records.expire(session.id, idleUntil - now);
      session.idleUntil = idleUntil;
    }
  }

  /**
   * The SAML participation of `spId` in this session, recorded on first use; the same
   * SessionIndex is reused for every later assertion to that SP in this session.
   */
  async samlParticipant(session: SsoSession, spId: string, nameId: string): Promise<SamlParticipant> {
    const key = keys.ssoParticipants(session.id);
    const existing = (await this.#store.hashGetAll(key))?.[spId];
    if (existing) {
      const p = JSON.parse(existing) as SamlParticipant;
      if (p.nameId === nameId) return p;
    }
    const participant: SamlParticipant = { spId, nameId, sessionIndex: `_${newId(24)}`, since: this.#clock() };
    await this.#store.hashSet(key, { [spId]: JSON.stringify(participant) }, Math.max(1, session.expiresAt - this.#clock()));
    return participant;
  }

  /** Who took part in the session: SAML SPs in the order they joined, OIDC clients and sessions. */
  async participants(sessionId: string): Promise<SessionParticipants> {
    const all = await this.#store.hashGetAll(keys.ssoParticipants(sessionId));
    const saml = Object.entries(all ?? {})
      .filter(([field]) => field !== OIDC_FIELD)
      .map(([, v]) => JSON.parse(v) as SamlParticipant)
      .sort((a, b) => a.since - b.since || a.spId.localeCompare(b.spId));
    const oidc = all?.[OIDC_FIELD] ? (JSON.parse(all[OIDC_FIELD]) as string[]) : [];
    const oidcSessions = await this.#store.setMembers(keys.ssoOidcSessions(sessionId));
    return { saml, oidc, oidcSessions };
  }

  /**
   * Records that an oidc-provider session (by its uid) signed in with this SSO session:
   * when this session is ended without a browser, that session's clients get their
   * back-channel logout tokens, with the sid of their ID tokens.
   */
  async oidcSession(session: SsoSession, uid: string): Promise<void> {
    // Every authorization of an app says so again: written once per process (the set is
    // the session's for its life; ids are never reused).
    const pair = `${session.id} ${uid}`;
    if (this.#oidcRecorded.has(pair)) return;
    await this.#store.setAdd(keys.ssoOidcSessions(session.id), uid, Math.max(1, session.expiresAt - this.#clock()));
    if (this.#oidcRecorded.size >= 10_000) this.#oidcRecorded.clear();
    this.#oidcRecorded.add(pair);
  }

  /** Records that an OIDC client received this session's sign-in. */
  async oidcParticipant(session: SsoSession, clientId: string): Promise<void> {
    const clients = (await this.participants(session.id)).oidc;
    if (clients.includes(clientId)) return;
    await this.#store.hashSet(keys.ssoParticipants(session.id), { [OIDC_FIELD]: JSON.stringify([...clients, clientId]) }, Math.max(1, session.expiresAt - this.#clock()));
  }

  async end(id: string): Promise<void> {
    await this.#records.delete(id);
    await this.#store.del(keys.ssoParticipants(id));
    await this.#store.del(keys.ssoOidcSessions(id));
  }

  /**
   * Ends every SSO session of an account but `except`, idle-expired ones included (their
   * apps may still hold sessions of their own); resolves to them, with their participants.
   */
  async endAllFor(accountId: string, except?: string): Promise<EndedSession[]> {
    const index = keys.accountSsoSessions(accountId);
    const ended: EndedSession[] = [];
    for (const id of await this.#store.setMembers(index)) {
      if (id === except) continue;
      const live = (await this.#store.get(keys.ssoSession(id))) !== null;
      ended.push({ id, live, participants: await this.participants(id) });
      await this.end(id);
      await this.#store.setRemove(index, id);
    }
    return ended;
  }
}

/** How the web layer carries the SSO session id (a cookie); generic over the HTTP context. */
export interface SessionCookie<C> {
  read(ctx: C): string | undefined;
  write(ctx: C, sessionId: string): void;
  clear(ctx: C): void;
}
