// One "browser" across several origins (the IdP and the simulated apps): a cookie jar
// per origin, redirects followed across them.
import type { Response } from 'supertest';
import { Browser } from './browser.ts';

export class MultiBrowser {
  readonly #byOrigin = new Map<string, Browser>();

  constructor(...bases: string[]) {
    for (const base of bases) this.#byOrigin.set(new URL(base).origin, new Browser(base));
  }

  at(url: string): Browser {
    const b = this.#byOrigin.get(new URL(url).origin);
    if (!b) throw new Error(`no browser for ${url}`);
    return b;
  }

  /** Follows redirects across the known origins; stops at a page or at an unknown origin. */
  async follow(from: string, res: Response): Promise<{ url: string; res: Response; external?: string }> {
    let url = from;
    let current = res;
    for (let hops = 0; hops < 30; hops++) {
      if (current.status < 300 || current.status >= 400) return { url, res: current };
      const next = new URL(current.headers.location!, url).toString();
      if (!this.#byOrigin.has(new URL(next).origin)) return { url, res: current, external: next };
      url = next;
      current = await this.at(url).get(url);
    }
    throw new Error('too many redirects');
  }

  async open(url: string) {
    return this.follow(url, await this.at(url).get(url));
  }

  async post(url: string, form: Record<string, string>) {
    return this.follow(url, await this.at(url).post(url, form));
  }
}
