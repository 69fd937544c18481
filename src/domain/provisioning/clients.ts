// Provisioning clients: a student information system (or Entra ID, Okta, a script) that
// keeps accounts in step with a roster over SCIM. Each has a bearer token, shown once when
// it is issued and kept only as its SHA-256, and the schools it may read and change; its
// externalIds live in its own namespace (store/directory/provisioning.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { ProvisioningClientRecord, ProvisioningRows } from '../../store/directory/provisioning.ts';

export type ProvisioningClient = Omit<ProvisioningClientRecord, 'tokenHash'>;

/** Tokens start with this, so a leaked one is recognisable (secret scanners) and never mistaken for another kind. */
const TOKEN_PREFIX = 'scim_';
const SCHOOL_CODE = /^[A-Za-z0-9_-]{1,40}$/;

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class ProvisioningClients {
  readonly #rows: ProvisioningRows;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { rows: ProvisioningRows; audit: AuditLog; clock: Clock }) {
    this.#rows = deps.rows;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /** Issues a client; resolves it with its token (the only time the token exists in clear). */
  async issue(name: string, schools: string[], actor: string): Promise<{ client: ProvisioningClient; token: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) throw new RangeError('name: 1 to 100 characters');
    if (trimmed.startsWith('oneroster:')) throw new RangeError('name: "oneroster:" names the OneRoster sources');
    if (schools.length === 0) throw new RangeError('schools: at least one school code, or * for every school');
    const bad = schools.find((s) => s !== '*' && !SCHOOL_CODE.test(s));
    if (bad !== undefined) throw new RangeError(`schools: "${bad}" is not a school code`);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: ProvisioningClientRecord = { id: newId(9), name: trimmed, tokenHash: tokenHash(token), schools: schools.includes('*') ? ['*'] : [...new Set(schools)], createdAt: this.#clock(), revokedAt: null };
    await this.#rows.addClient(record);
    await this.#audit.record({ type: 'provisioning.client.added', actor, client: record.id, reason: `${record.name}: schools ${record.schools.join(', ')}` });
    const { tokenHash: _, ...client } = record;
    return { client, token };
  }

  /** The client a bearer token belongs to, or null (unknown or revoked). */
  async authenticate(token: string): Promise<ProvisioningClient | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const hash = tokenHash(token);
    const record = await this.#rows.clientByTokenHash(hash);
    if (!record || record.revokedAt !== null) return null;
    // The lookup is by hash; compare again in constant time all the same.
    if (!timingSafeEqual(Buffer.from(record.tokenHash), Buffer.from(hash))) return null;
    const { tokenHash: _, ...client } = record;
    return client;
  }

  /** SCIM clients (not the OneRoster sources' namespaces, which no token authenticates as). */
  async list(): Promise<ProvisioningClient[]> {
    return (await this.#rows.clients()).filter((c) => !c.name.startsWith('oneroster:')).map(({ tokenHash: _, ...c }) => c);
  }

  async revoke(id: string, actor: string): Promise<boolean> {
    const done = await this.#rows.revokeClient(id, this.#clock());
    if (done) await this.#audit.record({ type: 'provisioning.client.revoked', actor, client: id });
    return done;
  }
}

/** Whether a client may read and change accounts and classes of a school. */
export function clientReaches(client: Pick<ProvisioningClient, 'schools'>, schoolCode: string): boolean {
  return client.schools.includes('*') || client.schools.includes(schoolCode);
}
