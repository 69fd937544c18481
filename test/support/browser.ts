// A cookie-keeping HTTP "browser" over supertest's agent: follows redirects one by one
// so tests can see every hop, and fills in forms from the HTML the IdP served.
import { Agent } from 'node:http';
import request from 'supertest';
import type { Response } from 'supertest';

export class Browser {
  readonly base: string;
  readonly agent: ReturnType<typeof request.agent>;
  /** Connections from this source address (e.g. 127.0.0.7: another client on loopback). */
  readonly #from: Agent | undefined;

  constructor(base: string, options: { from?: string } = {}) {
    this.base = base;
    this.agent = request.agent(base);
    this.#from = options.from ? new Agent({ localAddress: options.from, keepAlive: true }) : undefined;
  }

  #path(target: string): string {
    if (target.startsWith(this.base)) return target.slice(this.base.length) || '/';
    return target;
  }

  /** This browser's cookies named `name` (as name=value), to give to another browser (the same device later). */
  cookies(name: string): string[] {
    const host = new URL(this.base).hostname;
    return this.agent.jar.getCookies({ domain: host, path: '/', secure: false, script: false }).toValueString().split('; ').filter((c: string) => c.startsWith(`${name}=`));
  }

  /** Takes cookies (name=value) as if this browser had been given them. */
  takeCookies(cookies: string[]): this {
    this.agent.jar.setCookies(cookies);
    return this;
  }

  async get(target: string): Promise<Response> {
    const req = this.agent.get(this.#path(target)).redirects(0);
    return this.#from ? req.agent(this.#from) : req;
  }

  async post(target: string, form: Record<string, string>): Promise<Response> {
    const req = this.agent.post(this.#path(target)).type('form').send(form).redirects(0);
    return this.#from ? req.agent(this.#from) : req;
  }

  /**
   * Follows redirects from `res` while they stay on the IdP; returns the last response
   * and, when it redirected elsewhere (to a relying party), that location.
   */
  async follow(res: Response): Promise<{ res: Response; external?: string }> {
    let current = res;
    for (let hops = 0; hops < 20; hops++) {
      if (current.status < 300 || current.status >= 400) return { res: current };
      const location = new URL(current.headers.location!, this.base).toString();
      if (!location.startsWith(this.base)) return { res: current, external: location };
      current = await this.get(location);
    }
    throw new Error('too many redirects');
  }

  async open(target: string): Promise<{ res: Response; external?: string }> {
    return this.follow(await this.get(target));
  }

  /** Submits the page's form that posts to a URL containing `actionPart`. */
  async submit(page: Response, actionPart: string, fields: Record<string, string>): Promise<Response> {
    const form = formOf(page.text, actionPart);
    return this.post(form.action, { ...form.hidden, ...fields });
  }

  /** Signs in on the sign-in page `page` and follows to where it leads. */
  async signIn(page: Response, username: string, password: string): Promise<{ res: Response; external?: string }> {
    return this.follow(await this.submit(page, '/sign-in', { username, password }));
  }
}

export function formOf(html: string, actionPart: string): { action: string; hidden: Record<string, string> } {
  const forms = html.match(/<form[\s\S]*?<\/form>/g) ?? [];
  for (const f of forms) {
    const action = /action="([^"]*)"/.exec(f)?.[1];
    if (action === undefined || !action.includes(actionPart)) continue;
    const hidden: Record<string, string> = {};
    for (const m of f.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden[m[1]!] = decode(m[2]!);
    return { action: decode(action), hidden };
  }
  throw new Error(`no form posting to *${actionPart}* in page:\n${html.slice(0, 2000)}`);
}

/** The temporary password an administrator's reset page shows, as the administrator reads it (line-break hints removed). */
export function temporaryPasswordOf(html: string): string {
  const shown = /<code id="temporary-password">([\s\S]*?)<\/code>/.exec(html)?.[1];
  if (shown === undefined) throw new Error(`no temporary password in page:\n${html.slice(0, 800)}`);
  return decode(shown.replace(/<wbr>/g, ''));
}

function decode(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
