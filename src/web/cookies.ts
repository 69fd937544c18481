// The IdP's own cookies: the SSO session id and the browser secret that binds flows and
// CSRF tokens to one browser. HttpOnly, SameSite=Lax, signed, Secure over https.
import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { cookieKeyObjects } from '../http/cookie-signer.ts';
import type { Context } from 'koa';
import type { SessionCookie } from '../domain/sessions/sso-sessions.ts';
import type { DeviceCookie } from '../flows/http.ts';
import type { DeviceCookies } from '../domain/security/devices.ts';
import type { Clock } from '../domain/clock.ts';

export const SSO_COOKIE = 'idp_sso';
export const BROWSER_COOKIE = 'idp_browser';
export const DEVICE_COOKIE = 'idp_device';

export function cookieOptions(secure: boolean) {
  return { httpOnly: true, sameSite: 'lax' as const, secure, signed: true, overwrite: true, path: '/' };
}

export function ssoCookie(secure: boolean): SessionCookie<Context> {
  return {
    read: (ctx) => ctx.cookies.get(SSO_COOKIE, { signed: true }) || undefined,
    write: (ctx, id) => ctx.cookies.set(SSO_COOKIE, id, cookieOptions(secure)),
    clear: (ctx) => ctx.cookies.set(SSO_COOKIE, '', { ...cookieOptions(secure), maxAge: 0 }),
  };
}

/** The browser secret, created on first use in this request. */
export function browserSecret(secure: boolean) {
  return (ctx: Context): string => {
    const existing = (ctx.state.browserSecret as string | undefined) ?? ctx.cookies.get(BROWSER_COOKIE, { signed: true });
    if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return (ctx.state.browserSecret = existing);
    const created = randomBytes(32).toString('base64url');
    ctx.cookies.set(BROWSER_COOKIE, created, cookieOptions(secure));
    return (ctx.state.browserSecret = created);
  };
}

/**
 * CSRF tokens for forms: an HMAC of the browser secret (synchroniser token) under the cookie
 * keys, made into KeyObjects once (Node prepares a string key anew for every HMAC). The first
 * key makes tokens; any key checks them (cookie keys rotate: pages rendered before still post).
 */
export class CsrfTokens {
  readonly #keys: readonly KeyObject[];

  constructor(keys: readonly string[]) {
    this.#keys = cookieKeyObjects(keys);
  }

  token(secret: string): string {
    return csrfToken(this.#keys[0]!, secret);
  }

  valid(secret: string | undefined, token: unknown): boolean {
    if (!secret || typeof token !== 'string') return false;
    const given = Buffer.from(token);
    let valid = false;
    for (const key of this.#keys) {
      const expected = Buffer.from(csrfToken(key, secret));
      if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
    }
    return valid;
  }
}

function csrfToken(key: KeyObject, secret: string): string {
  return createHmac('sha256', key).update(`csrf:${secret}`).digest('base64url');
}

/** The device cookie: its own MAC (not the rotating cookie keys), kept `maxAgeDays`; `signedInHere`: whether this browser signed in to any login ID here. */
export function deviceCookie(devices: DeviceCookies, clock: Clock, secure: boolean): DeviceCookie & { signedInHere(ctx: Context): boolean } {
  const options = { httpOnly: true, sameSite: 'lax' as const, secure, signed: false, overwrite: true, path: '/', maxAge: devices.settings.maxAgeDays * 86_400_000 };
  const entries = (ctx: Context) => devices.read(ctx.cookies.get(DEVICE_COOKIE), clock());
  return {
    deviceOf: (ctx) => {
      const mine = entries(ctx);
      return (loginId, passwordSet) => devices.deviceFor(mine, loginId, passwordSet);
    },
    signedInHere: (ctx) => entries(ctx).length > 0,
    remember: (ctx, loginId, passwordSet) => ctx.cookies.set(DEVICE_COOKIE, devices.remember(entries(ctx), loginId, passwordSet, clock()), options),
  };
}
