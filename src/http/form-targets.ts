// CSP form-action for one response. A form's submission and every redirect after it must
// stay within form-action (Chromium checks the whole chain), so a page whose form ends at a
// relying party (a sign-in page whose flow resumes an OIDC request, which redirects to its
// redirect_uri) must list that relying party's origin. The security middleware sets the
// policy the relying-party files allow; a route that knows where the request it serves
// leads (a client registered at run time, an SP added by the CLI) adds that origin here,
// for this response only.
import type { ServerResponse } from 'node:http';

const CSP = 'Content-Security-Policy';
const added = new WeakMap<ServerResponse, Set<string>>();

/** The http(s) origin of a URL; undefined for anything else (custom schemes, garbage). */
function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/** `policy` with `origins` added to its form-action directive (when it has one). */
export function withFormTargets(policy: string, origins: Iterable<string>): string {
  const directives = policy.split(';');
  const i = directives.findIndex((d) => d.trim().split(/\s+/)[0] === 'form-action');
  if (i < 0) return policy;
  const values = directives[i]!.trim().split(/\s+/);
  for (const o of origins) if (!values.includes(o)) values.push(o);
  directives[i] = values.join(' ');
  return directives.join(';');
}

/** Lets this response's forms lead to the origins of `urls` (in addition to the policy's own). */
export function allowFormTargets(res: ServerResponse, urls: Iterable<string | undefined | null>): void {
  const set = added.get(res) ?? new Set<string>();
  for (const url of urls) {
    const origin = typeof url === 'string' ? originOf(url) : undefined;
    if (origin) set.add(origin);
  }
  if (set.size === 0) return;
  added.set(res, set);
  const policy = res.getHeader(CSP);
  if (typeof policy === 'string' && !res.headersSent) res.setHeader(CSP, withFormTargets(policy, set));
}

/** The origins added to this response so far. */
export function formTargetsOf(res: ServerResponse): string[] {
  return [...(added.get(res) ?? [])];
}
