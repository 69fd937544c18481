// Single logout towards SAML service providers, front-channel: the browser carries a
// signed LogoutRequest to each SP that took part in the ended SSO session, one after the
// other; each SP answers with a LogoutResponse to /saml/slo, which moves the chain on.
// When no SP is left, the chain's final step runs (a page, a form post, or the
// LogoutResponse owed to the SP that started the logout). The chain id travels as
// RelayState and is matched with the outstanding request ID.
import { newId } from '../../domain/ids.ts';
import type { SamlParticipant } from '../../domain/sessions/sso-sessions.ts';
import { keys, type Store } from '../../store/index.ts';
import { JsonRecords } from '../../store/records.ts';

export type LogoutFinal =
  | { kind: 'page' }
  | { kind: 'post'; action: string; fields: Record<string, string>; /** Where the post's answer redirects (CSP form-action). */ leadsTo?: string }
  | { kind: 'saml-response'; spId: string; inResponseTo: string; relayState?: string | undefined; status: string };

export interface LogoutChain {
  id: string;
  remaining: SamlParticipant[];
  /** The LogoutRequest waiting for its response. */
  current?: { spId: string; requestId: string };
  final: LogoutFinal;
  /** Who answered Success, and who did not (for the final page and the audit trail). */
  loggedOut: string[];
  failed: string[];
  /** OIDC clients of the session that were sent a back-channel logout token (for the final page). */
  told?: string[];
}

export class LogoutChains {
  readonly #records: JsonRecords<LogoutChain>;
  readonly #ttlMs: number;

  constructor(store: Store, ttlMs: number) {
    this.#records = new JsonRecords(store, keys.logoutChain, /^[A-Za-z0-9_-]{16,64}$/);
    this.#ttlMs = ttlMs;
  }

  async create(remaining: SamlParticipant[], final: LogoutFinal, told: string[] = []): Promise<LogoutChain> {
    const chain: LogoutChain = { id: newId(), remaining, final, loggedOut: [], failed: [], ...(told.length ? { told } : {}) };
    await this.save(chain);
    return chain;
  }

  async get(id: string | undefined): Promise<LogoutChain | null> {
    return this.#records.get(id);
  }

  async save(chain: LogoutChain): Promise<void> {
    await this.#records.put(chain, this.#ttlMs);
  }

  async end(id: string): Promise<void> {
    await this.#records.delete(id);
  }
}
