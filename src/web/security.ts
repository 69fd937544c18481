// Security headers (CSP, HSTS, no referrer) and, behind an https public URL, the refusal of
// requests that did not arrive over https.
import type { Middleware } from 'koa';
import helmet from 'koa-helmet';
import type { RelyingParties } from '../config/relying-parties.ts';
import { AppError } from '../domain/errors.ts';
import type { ServiceProviders } from '../protocols/saml/service-providers.ts';

/** Answered over plain http even when the public URL is https (load balancers, scrapers). */
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Origins a form of ours may lead to (CSP form-action also applies to redirects). */
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

export function securityHeaders(rps: RelyingParties, sps: ServiceProviders, secure: boolean): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'", ...formTargets(rps, sps)],
      },
    },
    strictTransportSecurity: secure,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
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
