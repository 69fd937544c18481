// Scaling across cores: the same load against the IdP with 1 worker and with N workers
// (IDP_WORKERS, Node's cluster module) in the same run, each on a fresh redis-server:
//   SAML SSO:           SP-initiated, HTTP-Redirect, signed-in browsers (signing and schema work)
//   client_credentials: POST /oidc/token with Basic authentication
// The load generator is this process (it uses little CPU next to signing); on a 2-core
// machine it shares the cores with the IdP, so the ratio is a floor.
// Run: node bench/workers.ts   (WORKERS=2 SECONDS=8 CONCURRENCY=16)
import { signedInBrowsers, startBenchIdp } from './lib/idp.ts';
import { drive } from './lib/load.ts';
import { report, round } from './lib/stats.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';

const WORKERS = Number(process.env.WORKERS ?? 2);
const SECONDS = Number(process.env.SECONDS ?? 8);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SP = { entityId: 'https://sp.test/fixture-sp' };
const SERVICE = { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' };

async function measure(workers: number) {
  const bench = await startBenchIdp({ IDP_WORKERS: String(workers) });
  const idpUrl = bench.url;
  try {
    // One browser per worker, signed in once (the SSO session then serves every request).
    const agents = await signedInBrowsers(idpUrl, CONCURRENCY);
    const saml = await drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker) => {
      const agent = agents[worker]!;
      const xml = authnRequestXml({ issuer: SP.entityId, destination: `${idpUrl}/saml/sso` });
      const page = await agent.follow(await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
      if (!page.text.includes('name="SAMLResponse"')) throw new Error(`no response: ${page.status} ${page.text.slice(0, 200)}`);
    });
    const basic = `Basic ${Buffer.from(`${SERVICE.id}:${SERVICE.secret}`).toString('base64')}`;
    const tokens = await drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async () => {
      const res = await fetch(`${idpUrl}/oidc/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      if (res.status !== 200) throw new Error(`token ${res.status}`);
      await res.arrayBuffer();
    });
    return { saml, tokens };
  } finally {
    await bench.stop();
  }
}

async function main() {
  const one = await measure(1);
  const many = await measure(WORKERS);
  const samlRatio = round(many.saml.perSecond / one.saml.perSecond);
  const tokenRatio = round(many.tokens.perSecond / one.tokens.perSecond);
  report('workers', `${WORKERS} workers vs 1: SAML SSO ${many.saml.perSecond}/s vs ${one.saml.perSecond}/s = ${samlRatio} ×; client_credentials ${many.tokens.perSecond}/s vs ${one.tokens.perSecond}/s = ${tokenRatio} ×`, {
    workers: WORKERS,
    concurrency: CONCURRENCY,
    oneWorker: one,
    [`${WORKERS}Workers`]: many,
    ratios: { samlSso: samlRatio, clientCredentials: tokenRatio },
  });
}

if (import.meta.main) await main();
