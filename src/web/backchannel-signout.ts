// Telling the apps of sessions ended without a browser (the revoker in services.ts: an
// administrator's reset or disable, a password change, the CLI). Both protocols at once,
// server to server, each request bounded by its own time limit (2.5 s), so the page that
// waits for this waits no longer than that:
//   OIDC: every client of the oidc-provider sessions linked to the ended SSO sessions gets
//     its back-channel logout token (protocols/oidc/backchannel-logout.ts);
//   SAML: every SP that took part gets a signed LogoutRequest over SOAP when its metadata
//     has a SOAP SingleLogoutService (protocols/saml/backchannel-logout.ts); the others can
//     only be told through the user's browser and are reported as not told.
// The session that stays (a password change in the SSPR app) is left alone, and so are its
// oidc-provider sessions even if an older, ended SSO session of the same browser named them.
// Every attempt is audited (`logout.backchannel`: the app, and told / failed / not told and
// why) and every failure logged.
import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { RelyingPartyNotice, TellRelyingParties } from '../domain/sessions/sign-out-report.ts';
import type { SamlParticipant } from '../domain/sessions/sso-sessions.ts';
import type { Logger } from '../observability/logger.ts';
import type { OidcBackchannelLogout } from '../protocols/oidc/backchannel-logout.ts';
import type { SamlBackchannelLogout } from '../protocols/saml/backchannel-logout.ts';

export interface BackchannelSignOutDeps {
  oidc: OidcBackchannelLogout;
  saml: SamlBackchannelLogout;
  audit: AuditLog;
  logger: Logger;
  /** Display name of an OIDC client or SAML SP by id (relying-party files). */
  nameOf: (id: string) => string;
  /** The client_name of an OIDC client registered over HTTP (RFC 7591), which the files do not know. */
  registeredNameOf?: (clientId: string) => Promise<string | undefined>;
}

export function backchannelSignOut(deps: BackchannelSignOutDeps): TellRelyingParties {
  return async ({ accountId, ended, kept, actor, ip, requestId }) => {
    const keptUids = new Set(kept?.oidcSessions ?? []);
    const uids = [...new Set(ended.flatMap((e) => e.participants.oidcSessions))].filter((uid) => !keptUids.has(uid));
    const samlOnce = new Map<string, SamlParticipant>();
    for (const p of ended.flatMap((e) => e.participants.saml)) samlOnce.set(`${p.spId}\u0000${p.nameId}\u0000${p.sessionIndex}`, p);

    const failed = (what: string) => (err: unknown): RelyingPartyNotice[] => {
      // The store failing midway: what was not reached is reported as not told below.
      deps.logger.error({ err, accountId }, `${what} back-channel logout failed`);
      return [];
    };
    const [oidc, saml] = await Promise.all([
      deps.oidc.tell(accountId, uids).catch(failed('OIDC')),
      Promise.all([...samlOnce.values()].map((p) => deps.saml.tell(p))).catch(failed('SAML')),
    ]);
    const notices = [...oidc, ...saml];
    // OIDC clients an ended SSO session knew of but no oidc-provider session vouched for
    // (its session gone, or signed in before sessions were linked): not told. An ended
    // session of the browser that stays (same oidc-provider session) is that browser's own.
    const oidcTold = new Set(oidc.map((n) => n.id));
    const unvouched = new Set<string>();
    for (const e of ended) {
      if (e.participants.oidcSessions.some((uid) => keptUids.has(uid))) continue;
      for (const clientId of e.participants.oidc) unvouched.add(clientId);
    }
    for (const clientId of unvouched) {
      if (oidcTold.has(clientId)) continue;
      const named = deps.nameOf(clientId);
      const name = named !== clientId ? named : ((await deps.registeredNameOf?.(clientId).catch(() => undefined)) ?? clientId);
      notices.push({ protocol: 'oidc', id: clientId, name, outcome: 'cannot-tell', detail: 'its sign-in session is no longer known' });
    }
    const samlTold = new Set(saml.map((n) => n.id));
    for (const p of samlOnce.values()) {
      if (!samlTold.has(p.spId)) notices.push({ protocol: 'saml', id: p.spId, name: deps.nameOf(p.spId), outcome: 'failed', detail: 'not reached' });
    }
    for (const n of notices) {
      const reason = n.outcome === 'told' ? 'told' : `${n.outcome === 'failed' ? 'failed' : 'not told'}: ${n.detail ?? ''}`;
      if (n.outcome === 'failed') deps.logger.warn({ accountId, protocol: n.protocol, client: n.id, detail: n.detail }, 'back-channel logout not confirmed');
      await deps.audit.record({ type: 'logout.backchannel', accountId, client: n.id, actor, ip, requestId, reason: `${n.protocol} ${reason}`.slice(0, 500) }).catch((err: unknown) => {
        deps.logger.error({ err, accountId, client: n.id }, 'auditing a back-channel logout failed');
      });
    }
    return notices;
  };
}
