// Security headers (CSP, HSTS, no referrer), behind an https public URL the refusal of
// requests that did not arrive over https, and the budget of protocol requests a browser
// without a session may start from one address.
import type { Context, Middleware, Next } from 'koa';
import helmet, { type HelmetOptions } from 'helmet';
import type { RelyingParties } from '../config/relying-parties.ts';
import { AppError } from '../domain/errors.ts';
import { formTargetsOf, withFormTargets } from '../http/form-targets.ts';
import type { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { StrangerBudget } from '../domain/security/strangers.ts';

/** Answered over plain http even when the public URL is https (load balancers, scrapers). */
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Origins a form of ours may lead to (CSP form-action also applies to redirects): those of
 * the relying-party files and the SPs known now. A page serving a request of a client
 * registered at run time adds its destination itself (http/form-targets.ts).
 */
function formTargets(rps: RelyingParties, sps: ServiceProviders): string[] {
  const urls = rps.oidc.flatMap((c) => [...c.redirect_uris, ...(c.post_logout_redirect_uris ?? [])]);
  for (const sp of sps.all()) urls.push(...sp.acs.map((e) => e.location), ...sp.slo.flatMap((e) => [e.location, e.responseLocation ?? e.location]));
  const origins = new Set<string>();
  for (const u of urls) {
    const { protocol, origin } = new URL(u);
    if (protocol === 'http:' || protocol === 'https:') origins.add(origin);
  }
  return [...origins];
}

function contentSecurityPolicy(rps: RelyingParties, sps: ServiceProviders): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'frame-ancestors': ["'none'"],
    'form-action': ["'self'", ...formTargets(rps, sps)],
  };
  return Object.entries(directives).map(([name, values]) => `${name} ${values.join(' ')}`).join(';');
}

/**
 * The CSP's form-action lists the SPs' endpoints, and SPs registered in the store come and
 * go while the IdP runs: the policy is rebuilt when their set changes, and set again after
 * the response was made when the set changed during the request (a lookup found a new SP,
 * whose ACS the response's form posts to).
 */
export function securityHeaders(rps: RelyingParties, sps: ServiceProviders, secure: boolean): Middleware {
  const others = helmetHeaders({
    contentSecurityPolicy: false,
    strictTransportSecurity: secure,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  let built = { version: -1, policy: '' };
  const policy = () => {
    if (built.version !== sps.version) built = { version: sps.version, policy: contentSecurityPolicy(rps, sps) };
    return built.policy;
  };
  return async (ctx, next) => {
    // Not awaited: a store that does not answer must not hold up every page (and its
    // headers); a lookup during the request that finds a new SP updates the policy below.
    sps.refresh().catch(() => {});
    const before = sps.version;
    ctx.set('Content-Security-Policy', policy());
    for (const [name, value] of others) ctx.res.setHeader(name, value);
    await next();
    if (sps.version !== before && ctx.response.get('Content-Security-Policy')) ctx.set('Content-Security-Policy', withFormTargets(policy(), formTargetsOf(ctx.res)));
  };
}

/**
 * The headers helmet sets with these options. They depend on nothing in the request, so
 * helmet runs once, at start, and each response gets its result (helmet run per request,
 * through koa-helmet's promise, was 3 % of a token request).
 */
export function helmetHeaders(options: HelmetOptions): Array<[string, string]> {
  const headers = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let done = false;
  helmet(options)({} as never, res as never, (err?: unknown) => {
    if (err) throw err;
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return [...headers];
}

/**
 * With an https public URL, a request that did not arrive over https (no X-Forwarded-Proto
 * from the proxy, or server.trustProxy off) gets a clear 421 rather than secure cookies
 * failing deep inside; health checks and metrics still answer over plain http.
 */
export function httpsOnly(): Middleware {
  return async (ctx, next) => {
    if (ctx.protocol !== 'https' && !OPS_PATHS.has(ctx.path)) {
      throw new AppError('SSPR 5105', `request over ${ctx.protocol} while server.publicUrl is https: the proxy must send X-Forwarded-Proto and server.trustProxy (IDP_TRUST_PROXY) be true`);
    }
    return next();
  };
}

/** The protocol requests that make the IdP keep a record while their user signs in (or confirms a logout). */
const KEPT_WHILE_SIGNING_IN = new Set(['/oidc/auth', '/oidc/session/end', '/saml/sso']);

/**
 * Strangers may start only so many of them from one address (domain/security/strangers.ts);
 * beyond, a 429 page that continues by itself after Retry-After. A browser with an SSO
 * session, or that signed in before (a device cookie), is never counted: its requests are
 * its user's, and a district behind one proxy is mostly such browsers at 8 a.m.
 */
export function strangerGate(budget: StrangerBudget, known: (ctx: Context) => boolean) {
  return async (ctx: Context, next: Next) => {
    if (KEPT_WHILE_SIGNING_IN.has(ctx.path) && !known(ctx)) {
      const admission = await budget.take(ctx.ip);
      if (!admission.admitted) throw new AppError('SSPR 5142', `protocol requests without a session from ${ctx.ip} over ${budget.settings.perIp} in ${budget.settings.windowMinutes} min`, { retryAfterSeconds: admission.retryAfterSeconds });
    }
    await next();
  };
}
