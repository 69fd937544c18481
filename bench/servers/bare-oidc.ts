// The baseline of bench/token.ts: oidc-provider as it comes — in-memory adapter, no
// product around it — with the same kinds of clients and token settings as the IdP.
// Prints one JSON line: its URL and `count` refresh tokens minted through its own models.
import { createServer } from 'node:http';
import { Provider } from 'oidc-provider';

const count = Number(process.argv[2] ?? 16);
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const provider = new Provider(url, {
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
