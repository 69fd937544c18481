// Single logout towards SAML service providers, front-channel: the browser carries a
// signed LogoutRequest to each SP that took part in the ended SSO session, one after the
// other; each SP answers with a LogoutResponse to /saml/slo, which moves the chain on.
// When no SP is left, the chain's final step runs (a page, a form post, or the
// LogoutResponse owed to the SP that started the logout). The chain id travels as
// RelayState and is matched with the outstanding request ID.
import { newId } from '../../domain/ids.ts';
import type { SamlParticipant } from '../../domain/sessions/sso-sessions.ts';
import { keys, type Store } from '../../store/index.ts';

export type LogoutFinal =
  | { kind: 'page' }
  | { kind: 'post'; action: string; fields: Record<string, string> }
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
}

export class LogoutChains {
  readonly #store: Store;
  readonly #ttlMs: number;

  constructor(store: Store, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  async create(remaining: SamlParticipant[], final: LogoutFinal): Promise<LogoutChain> {
    const chain: LogoutChain = { id: newId(), remaining, final, loggedOut: [], failed: [] };
    await this.save(chain);
    return chain;
  }

  async get(id: string | undefined): Promise<LogoutChain | null> {
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
    const raw = await this.#store.get(keys.logoutChain(id));
    return raw ? (JSON.parse(raw) as LogoutChain) : null;
  }

  async save(chain: LogoutChain): Promise<void> {
    await this.#store.set(keys.logoutChain(chain.id), JSON.stringify(chain), { ttlMs: this.#ttlMs });
  }

  async end(id: string): Promise<void> {
    await this.#store.del(keys.logoutChain(id));
  }
}
