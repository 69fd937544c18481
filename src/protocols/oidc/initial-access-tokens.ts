// Initial access tokens (RFC 7591 section 3): what lets an app register itself when
// registration is protected. Each token registers a limited number of apps (one by default,
// `cli initial-access-token --uses N`): oidc-provider's token carries the policy
// LIMITED_USES, and the uses left are a counter of their own beside it in the database,
// expiring with it. A registration takes one use before the client is stored (one
// conditional UPDATE, so two registrations at once cannot both take the last one) and gives it back when it is refused.
// A token made before uses were counted (no policy) is removed once it has registered one app.
import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import type { Database } from '../../store/database/index.ts';
import { OidcRegistrations } from '../../store/directory/oidc-registrations.ts';
import { digest } from './adapter.ts';

export const LIMITED_USES = 'limited-uses';

/** The counter a registration took a use from, per request (given back if it is refused). */
const taken = new WeakMap<object, string>();

/** Creates a token for `uses` registrations within `days`, with the provider's own model. */
export async function issueInitialAccessToken(provider: Provider, database: Database, days: number, uses: number): Promise<string> {
  const expiresIn = Math.round(days * 86400);
  const token = new provider.InitialAccessToken({ expiresIn, policies: [LIMITED_USES] });
  const value = await token.save();
  // Written after the token: a token whose counter is missing registers nothing.
  await new OidcRegistrations(database).putUses(digest(value), uses, new Date(Date.now() + expiresIn * 1000));
  return value;
}

/** The uses a token has left (null when it is unknown, expired or not counted). */
export function usesLeft(database: Database, token: string): Promise<number | null> {
  return new OidcRegistrations(database).usesLeft(digest(token));
}

/** oidc-provider's registration policy: takes one use of the presented token (one statement: two at once cannot both take the last). */
export function limitedUsesPolicy(database: Database) {
  const registrations = new OidcRegistrations(database);
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const token = (ctx.oidc.entities.InitialAccessToken as { jti?: string } | undefined)?.jti;
    if (!token) throw new errors.InvalidToken('initial access token not found');
    const key = digest(token);
    if (!(await registrations.changeUses(key, -1))) {
      const used = new errors.InvalidToken('initial access token used up');
      used.error_description = 'the initial access token has registered as many apps as it was made for (make another: cli initial-access-token)';
      throw used;
    }
    taken.set(ctx, key);
  };
}

/**
 * Runs around oidc-provider's routes: a refused registration gives its use back; a token
 * without the policy (made by an earlier release) is removed once it has registered an app.
 */
export function initialAccessTokenUses(database: Database) {
  const registrations = new OidcRegistrations(database);
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    try {
      await next();
    } finally {
      const key = taken.get(ctx);
      const registered = ctx.oidc?.route === 'registration' && ctx.status === 201;
      if (key && !registered) await registrations.changeUses(key, +1).catch(() => false);
      const iat = ctx.oidc?.entities?.InitialAccessToken as { policies?: string[]; destroy(): Promise<void> } | undefined;
      if (registered && iat && !iat.policies?.includes(LIMITED_USES)) await iat.destroy();
    }
  };
}
