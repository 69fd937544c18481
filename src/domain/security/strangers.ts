// What a stranger may make the IdP store. Sign-in pages store nothing (flows begin as sealed
// references, flows/flow.ts), but a protocol request must be kept while its user signs in:
// an OIDC interaction for /oidc/auth, a pending sign-in for a SAML AuthnRequest, a session
// record for a logout confirmation. A browser without an SSO session may start at most
// `perIp` of those from one address in `windowMinutes` (a school's NAT at 8 a.m. starts one
// per pupil who is not yet signed in); beyond, it is told to come back when the window ends.
// Each kept record expires within about half an hour (flow.maxMinutes + 5), so what one
// address can cost the store is bounded: perIp × about 1 KB.
import { keys, type Store } from '../../store/index.ts';

export interface StrangerSettings {
  perIp: number;
  windowMinutes: number;
}

export type StrangerAdmission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

export class StrangerBudget {
  readonly #store: Store;
  readonly settings: StrangerSettings;

  constructor(store: Store, settings: StrangerSettings) {
    this.#store = store;
    this.settings = settings;
  }

  /** Takes one protocol request's place for a browser without a session at `ip`. */
  async take(ip: string): Promise<StrangerAdmission> {
    const windowMs = this.settings.windowMinutes * 60_000;
    const n = await this.#store.increment(keys.ipProtocolStarts(ip), windowMs);
    if (n <= this.settings.perIp) return { admitted: true };
    const left = await this.#store.ttl(keys.ipProtocolStarts(ip));
    return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((left > 0 ? left : windowMs) / 1000)) };
  }
}
