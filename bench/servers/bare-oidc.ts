// The baselines of bench/token.ts: oidc-provider as it comes — in-memory adapter, no
// product around it — with the same kinds of clients and token settings as the IdP; or,
// given a Redis URL, the same with the IdP's own adapter (src/protocols/oidc/adapter.ts) on
// that Redis, and still nothing else of the product: what keeping tokens in a shared store
// costs by itself. Prints one JSON line: its URL and `count` refresh tokens minted through
// its own models.
//   node bench/servers/bare-oidc.ts [count] [redis URL]
import { createServer } from 'node:http';
import { Provider, type Adapter } from 'oidc-provider';
import { adapterFactory } from '../../src/protocols/oidc/adapter.ts';
import { PostgresDatabase } from '../../src/store/database/index.ts';
import { RedisStore } from '../../src/store/index.ts';

const count = Number(process.argv[2] ?? 16);
const redisUrl = process.argv[3];
// The adapter keeps registered clients in the database; the clients here are static, so it
// is never asked (the connection is made on first use only).
const store = redisUrl ? new RedisStore({ url: redisUrl, keyPrefix: 'idp:' }) : undefined;
await store?.ready(10_000);
const adapter: (new (name: string) => Adapter) | undefined = store
  ? adapterFactory(store, new PostgresDatabase({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'bench_bare_unused' }))
  : undefined;
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const provider = new Provider(url, {
  ...(adapter ? { adapter } : {}),
  clients: [
    { client_id: 'bench-service', client_secret: 'bench-service-secret-0123456789abcdef0123', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
    { client_id: 'bench-web', client_secret: 'bench-web-secret-0123456789abcdef012345678', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1:9/callback'] },
  ],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  rotateRefreshToken: true,
  ttl: { AccessToken: 3600, ClientCredentials: 600, Grant: 14 * 86400, RefreshToken: 14 * 86400, IdToken: 3600, AuthorizationCode: 60, Interaction: 3600, Session: 36000 },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});
server.on('request', provider.callback());

const client = await provider.Client.find('bench-web');
const tokens: string[] = [];
for (let i = 0; i < count; i++) {
  const grant = new provider.Grant({ accountId: `account-${i}`, clientId: 'bench-web' });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({ accountId: `account-${i}`, client: client!, grantId, scope: 'openid offline_access', gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000) });
  tokens.push(await rt.save());
}
process.stdout.write(`${JSON.stringify({ url, tokenPath: '/token', tokens })}\n`);
// Exits on SIGTERM/SIGINT as Node programs do at their end (a --cpu-prof profile is written then).
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
