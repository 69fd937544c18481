// OIDC Back-Channel Logout for sessions ended without a browser (an administrator's reset
// or disable, a password change, the CLI), through oidc-provider's own mechanism: for each
// client of each oidc-provider session that signed in with an ended SSO session,
// Client#backchannelLogout(sub, sid) — the Logout Token of Back-Channel Logout 1.0 §2.4
// (iss, aud, iat, exp, jti, events, sub, and sid when the client registered
// backchannel_logout_session_required: the sid of that client's ID tokens), signed with
// the OP's keys, POSTed as `logout_token` with oidc-provider's limits (2.5 s, no redirects,
// SSRF rules and this project's loopback exemption: provider.ts `fetch`). Then that
// oidc-provider session is destroyed, as its end_session would.
//
// Which oidc-provider sessions belong to which SSO session is recorded here, at every
// successful authorization (oidc-provider's `authorization.success`): the browser's SSO
// session and its oidc-provider session (by uid) are linked in SsoSessions.
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { RelyingPartyNotice } from '../../domain/sessions/sign-out-report.ts';
import type { SsoSession, SsoSessions } from '../../domain/sessions/sso-sessions.ts';

export interface OidcBackchannelDeps {
  provider: Provider;
  sso: SsoSessions;
  /** The SSO session of the browser of this request (read only: not counted as activity). */
  ssoOf: (ctx: KoaContextWithOIDC) => Promise<SsoSession | null>;
  onError: (err: unknown, message: string) => void;
}

interface LogoutCapable {
  clientId: string;
  clientName?: string | undefined;
  backchannelLogoutUri?: string | undefined;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

export function oidcBackchannelLogout(deps: OidcBackchannelDeps) {
  const { provider } = deps;

  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session;
    if (!session?.accountId || !session.uid) return;
    const uid = session.uid;
    const accountId = session.accountId;
    (async () => {
      const sso = await deps.ssoOf(ctx);
      if (sso && sso.accountId === accountId) await deps.sso.oidcSession(sso, uid);
    })().catch((err: unknown) => deps.onError(err, 'recording the OIDC session of an SSO session failed'));
  });

  /**
   * Tells the clients of these oidc-provider sessions (by uid) of `accountId` that their
   * sessions ended, then destroys those sessions; resolves to one notice per attempt.
   */
  async function tell(accountId: string, uids: string[]): Promise<RelyingPartyNotice[]> {
    const notices: RelyingPartyNotice[] = [];
    await Promise.all(
      [...new Set(uids)].map(async (uid) => {
        const session = await provider.Session.findByUid(uid);
        // Gone, or since signed in to by another account in that browser: nothing of ours.
        if (!session || session.accountId !== accountId) return;
        await Promise.all(
          Object.entries(session.authorizations ?? {}).map(async ([clientId, authorization]) => {
            const client = (await provider.Client.find(clientId)) as unknown as LogoutCapable | undefined;
            const base = { protocol: 'oidc' as const, id: clientId, name: client?.clientName ?? clientId };
            if (!client) return void notices.push({ ...base, outcome: 'cannot-tell', detail: 'no longer registered' });
            if (!client.backchannelLogoutUri) return void notices.push({ ...base, outcome: 'cannot-tell', detail: 'no backchannel_logout_uri registered' });
            try {
              await client.backchannelLogout(accountId, (authorization as { sid?: string }).sid);
              notices.push({ ...base, outcome: 'told' });
            } catch (err) {
              notices.push({ ...base, outcome: 'failed', detail: (err as Error).message });
            }
          }),
        );
        await session.destroy();
      }),
    );
    return notices;
  }

  return { tell };
}

export type OidcBackchannelLogout = ReturnType<typeof oidcBackchannelLogout>;
