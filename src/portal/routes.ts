// The apps portal: tiles for the apps the signed-in account is entitled to.
//   GET  /portal            tiles, or the sign-in flow when there is no SSO session
//   POST /portal/sign-out   ends the SSO session, then oidc-provider's logout
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Directory } from '../domain/accounts/directory.ts';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import { entitledApps, type AppDefinition } from '../domain/entitlements.ts';
import type { SessionCookie, SsoSession, SsoSessions } from '../domain/sessions/sso-sessions.ts';

export interface PortalDeps {
  directory: Directory;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  audit: AuditLog;
  apps: AppDefinition[];
  render: (ctx: Context, view: string, data: Record<string, unknown>, status?: number) => Promise<void>;
}

export function portalRouter(deps: PortalDeps): Router {
  const router = new Router();

  router.get('/', (ctx) => {
    ctx.redirect('/portal');
  });

  router.get('/portal', async (ctx) => {
    const session = await deps.ssoOf(ctx);
    const account = session ? await deps.directory.get(session.accountId) : null;
    if (!session || !account || account.status !== 'active') {
      if (session) await deps.sso.end(session.id);
      ctx.status = 303;
      ctx.redirect('/flow/start?return=/portal');
      return;
    }
    await deps.render(ctx, 'portal', {
      account: { displayName: account.displayName, loginId: account.loginId, school: account.school.name, level: account.level },
      apps: entitledApps(account, deps.apps),
    });
  });

  router.post('/portal/sign-out', async (ctx) => {
    const id = deps.ssoCookie.read(ctx);
    const session = id ? await deps.sso.get(id) : null;
    if (id) await deps.sso.end(id);
    deps.ssoCookie.clear(ctx);
    if (session) {
      await deps.audit.record({ type: 'logout', accountId: session.accountId, client: 'portal', ip: ctx.ip, requestId: ctx.state.requestId as string });
    }
    // Ends oidc-provider's session too and notifies OIDC clients (back-channel logout).
    ctx.status = 303;
    ctx.redirect('/oidc/session/end');
  });

  return router;
}
