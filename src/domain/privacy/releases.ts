// What an app may receive of a pupil, as the school system decides (README "Privacy"): on
// top of what the app's file allows (its scopes, its SP attributes), the ministry may narrow
// an app's release for every school, and a school for its own pupils. An app gets the kinds
// of data all three allow. `sub` / the NameID (an identifier) always goes: without it there
// is no sign-in; an SP that would get the login ID as NameID gets its persistent identifier
// instead when `email` is withheld.
// Every process keeps what it read for CACHE_MS (a change reaches all of them within that);
// the process that made the change forgets at once.
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { ReleaseRows } from '../../store/directory/app-releases.ts';

/** Kinds of data, across protocols (README "Privacy"). */
export const RELEASE_ITEMS = ['email', 'name', 'school', 'level', 'roles', 'language'] as const;
export type ReleaseItem = (typeof RELEASE_ITEMS)[number];

/** Which kind each OIDC claim and SAML attribute is. */
export const ITEM_OF: Record<string, ReleaseItem> = {
  email: 'email', email_verified: 'email', mail: 'email',
  name: 'name', given_name: 'name', family_name: 'name', givenName: 'name', sn: 'name', displayName: 'name',
  school: 'school', level: 'level', roles: 'roles', role: 'roles', locale: 'language',
};

const CACHE_MS = 10_000;

export interface ReleaseChoice {
  /** '*': the ministry's, for every school. */
  schoolCode: string;
  items: ReleaseItem[];
  updatedAt: number;
  updatedBy: string;
}

export class AppReleases {
  readonly #rows: ReleaseRows;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { at: number; allowed: Promise<ReadonlySet<ReleaseItem> | null> }>();

  constructor(deps: { rows: ReleaseRows; audit: AuditLog; clock: Clock }) {
    this.#rows = deps.rows;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /** The kinds an app may receive of a pupil of a school, or null when nobody narrowed it. */
  allowed(appKey: string, schoolCode: string): Promise<ReadonlySet<ReleaseItem> | null> {
    const key = `${appKey}\n${schoolCode}`;
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && now - hit.at < CACHE_MS) return hit.allowed;
    const allowed = this.#rows.forApp(appKey, schoolCode).then((rows) => {
      if (rows.length === 0) return null;
      return new Set(RELEASE_ITEMS.filter((item) => rows.every((r) => r.items.includes(item))));
    });
    allowed.catch(() => this.#cache.delete(key));
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(key, { at: now, allowed });
    return allowed;
  }

  /** Names (claims or attributes) less those of kinds the app may not receive. */
  async filter<T extends string>(appKey: string, schoolCode: string, names: readonly T[]): Promise<T[]> {
    const allowed = await this.allowed(appKey, schoolCode);
    return allowed ? names.filter((n) => !(n in ITEM_OF) || allowed.has(ITEM_OF[n]!)) : [...names];
  }

  async choices(): Promise<Map<string, ReleaseChoice[]>> {
    const out = new Map<string, ReleaseChoice[]>();
    for (const r of await this.#rows.all()) {
      const list = out.get(r.appKey) ?? [];
      list.push({ schoolCode: r.schoolCode, items: r.items.filter((i): i is ReleaseItem => (RELEASE_ITEMS as readonly string[]).includes(i)), updatedAt: r.updatedAt, updatedBy: r.updatedBy });
      out.set(r.appKey, list);
    }
    return out;
  }

  /** Sets what an app may receive for a school ('*': every school); null takes the choice away (the app's file decides). */
  async choose(appKey: string, schoolCode: string, items: ReleaseItem[] | null, actor: { id: string; name?: string | undefined }): Promise<void> {
    if (items === null) await this.#rows.remove(appKey, schoolCode);
    else await this.#rows.put({ appKey, schoolCode, items: RELEASE_ITEMS.filter((i) => items.includes(i)), updatedAt: this.#clock(), updatedBy: actor.id });
    for (const key of this.#cache.keys()) if (key.startsWith(`${appKey}\n`)) this.#cache.delete(key);
    await this.#audit.record({
      type: 'privacy.release.set', actor: actor.id, actorName: actor.name, client: appKey,
      reason: `${schoolCode === '*' ? 'every school' : `school ${schoolCode}`}: ${items === null ? 'as the app\'s file allows' : items.length ? items.join(', ') : 'an identifier only'}`,
    });
  }
}
