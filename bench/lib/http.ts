// A small browser for benchmarks: fetch (keep-alive) with a cookie jar per host and
// redirects followed by hand, so that a sign-in is exactly the requests a browser makes.
export class Agent {
  readonly #cookies = new Map<string, Map<string, string>>();
  /** Requests made by every agent (to report requests per operation). */
  static requests = 0;

  #cookieHeader(url: URL): string {
    const jar = this.#cookies.get(url.host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  #store(url: URL, res: Response): void {
    let jar = this.#cookies.get(url.host);
    if (!jar) this.#cookies.set(url.host, (jar = new Map()));
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async request(target: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; status: number; location?: string; retryAfter?: string; text: string }> {
    const url = new URL(target);
    const headers: Record<string, string> = { cookie: this.#cookieHeader(url) };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    Agent.requests++;
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.#store(url, res);
    const text = await res.text();
    const location = res.headers.get('location');
    const retryAfter = res.headers.get('retry-after');
    return { url: url.toString(), status: res.status, ...(location ? { location: new URL(location, url).toString() } : {}), ...(retryAfter ? { retryAfter } : {}), text };
  }

  /** Follows redirects while they stay on `origin`; returns the last response. */
  async follow(first: Awaited<ReturnType<Agent['request']>>, origin: string): Promise<Awaited<ReturnType<Agent['request']>>> {
    let res = first;
    for (let hops = 0; hops < 20 && res.location && res.location.startsWith(origin); hops++) res = await this.request(res.location);
    return res;
  }
}

/** The hidden fields and action of the form that posts to a URL containing `part`. */
export function form(html: string, part: string): { action: string; fields: Record<string, string> } {
  for (const f of html.match(/<form[\s\S]*?<\/form>/g) ?? []) {
    const action = /action="([^"]*)"/.exec(f)?.[1];
    if (!action || !action.includes(part)) continue;
    const fields: Record<string, string> = {};
    for (const m of f.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[m[1]!] = m[2]!.replace(/&amp;/g, '&').replace(/&#34;/g, '"');
    return { action: action.replace(/&amp;/g, '&'), fields };
  }
  throw new Error(`no form posting to ${part}: ${html.slice(0, 300)}`);
}
