// Scaling across cores: the same load against the IdP with 1 worker and with N workers
// (IDP_WORKERS, Node's cluster module) in the same run, each on a fresh redis-server:
//   SAML SSO:           SP-initiated, HTTP-Redirect, signed-in browsers (signing and schema work)
//   client_credentials: POST /oidc/token with Basic authentication
// The load generator is this process (it uses little CPU next to signing); on a 2-core
// machine it shares the cores with the IdP, so the ratio is a floor.
// Both IdPs run at once; slices alternate between them (bench/lib/load.ts alternate()).
// Run: node bench/workers.ts   (WORKERS=2 SLICES=6 SECONDS=4 CONCURRENCY=16)
import { signedInBrowsers, startBenchIdp } from './lib/idp.ts';
import { alternate, drive, mergeDriven } from './lib/load.ts';
import { report } from './lib/stats.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';

const WORKERS = Number(process.env.WORKERS ?? 2);
const SECONDS = Number(process.env.SECONDS ?? 4);
const SLICES = Number(process.env.SLICES ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SP = { entityId: 'https://sp.test/fixture-sp' };
const SERVICE = { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' };

/** An IdP with `workers` processes (on its own redis-server), ready to be loaded. */
async function target(workers: number) {
  const bench = await startBenchIdp({ IDP_WORKERS: String(workers) });
  const idpUrl = bench.url;
  // One browser per connection, signed in once (the SSO session then serves every request).
  const agents = await signedInBrowsers(idpUrl, CONCURRENCY);
  const basic = `Basic ${Buffer.from(`${SERVICE.id}:${SERVICE.secret}`).toString('base64')}`;
  return {
    stop: () => bench.stop(),
    saml: () => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker) => {
      const agent = agents[worker]!;
      const xml = authnRequestXml({ issuer: SP.entityId, destination: `${idpUrl}/saml/sso` });
      const page = await agent.follow(await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
      if (!page.text.includes('name="SAMLResponse"')) throw new Error(`no response: ${page.status} ${page.text.slice(0, 200)}`);
    }),
    tokens: () => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async () => {
      const res = await fetch(`${idpUrl}/oidc/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      if (res.status !== 200) throw new Error(`token ${res.status}`);
      await res.arrayBuffer();
    }),
  };
}

async function main() {
  // Both IdPs run side by side (idle when not loaded); slices alternate between them.
  const single = await target(1);
  const several = await target(WORKERS);
  try {
    const saml = await alternate(SLICES, single.saml, several.saml, mergeDriven);
    const tokens = await alternate(SLICES, single.tokens, several.tokens, mergeDriven);
    const one = { saml: saml.baseline, tokens: tokens.baseline };
    const many = { saml: saml.product, tokens: tokens.product };
    report('workers', `${WORKERS} workers vs 1: SAML SSO ${many.saml.perSecond}/s vs ${one.saml.perSecond}/s = ${saml.ratio} ×; client_credentials ${many.tokens.perSecond}/s vs ${one.tokens.perSecond}/s = ${tokens.ratio} × (medians of ${SLICES} alternating slices)`, {
      workers: WORKERS,
      concurrency: CONCURRENCY,
      slices: SLICES,
      oneWorker: one,
      [`${WORKERS}Workers`]: many,
      ratios: { samlSso: saml.ratio, clientCredentials: tokens.ratio, samlSsoPerSlice: saml.ratios, clientCredentialsPerSlice: tokens.ratios },
    });
  } finally {
    await single.stop();
    await several.stop();
  }
}

if (import.meta.main) await main();
