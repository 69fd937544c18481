// What every SAML endpoint is given: the deps from the app, and what the endpoints share
// (the pending sign-ins, whether cookies are secure).
import type { Context } from 'koa';
import type { Settings } from '../../../config/settings.ts';
import type { Gate, Refusal } from '../../../domain/sessions/gate.ts';
import type { Directory } from '../../../domain/accounts/directory.ts';
import type { AuditLog } from '../../../domain/audit/audit-log.ts';
import type { Clock } from '../../../domain/clock.ts';
import type { SamlResume } from '../../../domain/sessions/resume.ts';
import type { SsoSession, SsoSessions } from '../../../domain/sessions/sso-sessions.ts';
import type { Render } from '../../../http/respond.ts';
import type { Store } from '../../../store/index.ts';
import type { LogoutChain, LogoutChains, LogoutFinal } from '../logout-chain.ts';
import type { IdpEndpoints } from '../metadata.ts';
import { PendingSignIns } from '../pending.ts';
import type { SamlMessages } from '../responses.ts';
import type { SchemaValidator } from '../schema-validator.ts';
import type { ServiceProviders } from '../service-providers.ts';

/** Cookie carrying a logout chain from the OIDC logout to /saml/slo/resume (signed). */
export const LOGOUT_CHAIN_COOKIE = 'idp_logout';

export interface SamlDeps {
  settings: Settings;
  store: Store;
  clock: Clock;
  directory: Directory;
  sso: SsoSessions;
  audit: AuditLog;
  sps: ServiceProviders;
  messages: SamlMessages;
  schema: SchemaValidator;
  endpoints: IdpEndpoints;
  metadataXml: string;
  certificatePem: string;
  /** The next signing certificate while a rotation is under way. */
  nextCertificatePem?: () => string | undefined;
  chains: LogoutChains;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  /** May the SSO session proceed (sign-in, ForceAuthn freshness, required actions): one gate for every entry point. */
  gate: Gate;
  browserSecret: (ctx: Context) => string;
  /** Starts the flow the gate asks for, which resumes the pending sign-in; resolves to its URL. */
  runFirst: (ctx: Context, refusal: Refusal, resume: SamlResume) => Promise<string>;
  /**
   * Ends this browser's SSO session everywhere (OIDC too) and continues with `final`;
   * resolves to where the browser goes next. `exceptSp` started the logout itself.
   */
  signOut: (ctx: Context, final: LogoutFinal, exceptSp?: string) => Promise<string>;
  /** The page that ends a single logout started at the IdP. */
  signedOutPage: (ctx: Context, chain: LogoutChain | null) => Promise<void>;
  render: Render;
  /** Counts a refused message (its detail is on the log line of the error page). */
  onRefusal?: (code: string) => void;
  /** Attribute names less the kinds administrators withhold from this SP for the account's school (domain/privacy/releases.ts). */
  released?: <T extends string>(appKey: string, schoolCode: string, names: readonly T[]) => Promise<T[]>;
}

export interface SamlScope {
  deps: SamlDeps;
  pendingSignIns: PendingSignIns;
  secure: boolean;
}

export function samlScope(deps: SamlDeps): SamlScope {
  return {
    deps,
    pendingSignIns: new PendingSignIns(deps.store, (deps.settings.flow.maxMinutes + 5) * 60_000),
    secure: deps.settings.server.publicUrl.startsWith('https:'),
  };
}
