// SAML SP-initiated single sign-on under load, against raw samlify response signing.
//   baseline: samlify's createLoginResponse (its own template, Response and Assertion
//             signed with RSA-SHA256), in a loop, as fast as one core goes;
//   product:  what an SP's user costs the IdP with a live SSO session: an AuthnRequest
//             through every inbound check (schema validation included) to the page with
//             the signed Response — HTTP-Redirect: one GET; HTTP-POST: the POST, then a
//             303 to a GET (a cross-site POST carries no cookies).
// Also: the schema validation per message (the IdP's validator, schemas compiled once).
// Baseline and product alternate in SLICES slices of SECONDS each; ratios are medians of
// back-to-back pairs (bench/lib/load.ts alternate()).
// Run: node bench/saml-sso.ts   (SLICES=6 SECONDS=4 CONCURRENCY=4)
import * as samlify from 'samlify';
import { newSamlKeyPair } from '../src/config/key-material.ts';
import { idpEndpoints, idpMetadata } from '../src/protocols/saml/metadata.ts';
import { SchemaValidator } from '../src/protocols/saml/schema-validator.ts';
import { authnRequestXml, base64, redirectQuery } from '../test/support/saml-messages.ts';
import { signedInBrowsers, startBenchIdp } from './lib/idp.ts';
import { alternate, drive, mergeDriven } from './lib/load.ts';
import { percentile, report, round } from './lib/stats.ts';

const SECONDS = Number(process.env.SECONDS ?? 4);
const SLICES = Number(process.env.SLICES ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const SP = { entityId: 'https://sp.test/fixture-sp', acs: 'http://127.0.0.1:9/fixture-sp/acs' };

function rawSamlify() {
  const keys = newSamlKeyPair('bench idp');
  const metadata = idpMetadata(idpEndpoints('http://127.0.0.1:1'), keys.certificatePem, { name: 'bench', url: 'http://127.0.0.1:1' });
  const idp = samlify.IdentityProvider({ metadata, privateKey: keys.privateKeyPem });
  const sp = samlify.ServiceProvider({ entityID: SP.entityId, assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: SP.acs }], wantAssertionsSigned: true, wantMessageSigned: true });
  return () => drive({ concurrency: 1, seconds: SECONDS }, async () => {
    await idp.createLoginResponse(sp, { extract: { request: { id: '_request' } } }, 'post', { email: 'allen_tan@students.edu.sg' });
  });
}

async function schemaValidation() {
  const xml = authnRequestXml({ issuer: SP.entityId, destination: 'http://127.0.0.1:1/saml/sso' });
  const validator = new SchemaValidator();
  await validator.warm();
  const ours: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    if (!(await validator.validate(xml)).valid) throw new Error('invalid');
    ours.push(performance.now() - t0);
  }
  await validator.close();
  return {
    perMessage: { p50ms: round(percentile(ours, 50), 3), p99ms: round(percentile(ours, 99), 3) },
  };
}

async function main() {
  const samlifyLoad = rawSamlify();
  const schema = await schemaValidation();

  const bench = await startBenchIdp();
  const idpUrl = bench.url;
  try {
    // One browser per worker, signed in once (the SSO session then serves every request).
    const agents = await signedInBrowsers(idpUrl, CONCURRENCY);
    const sso = (binding: 'redirect' | 'post') => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker) => {
      const agent = agents[worker]!;
      const xml = authnRequestXml({ issuer: SP.entityId, destination: `${idpUrl}/saml/sso` });
      const first = binding === 'post'
        ? await agent.request(`${idpUrl}/saml/sso`, { form: { SAMLRequest: base64(xml) } })
        : await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`);
      const page = await agent.follow(first, idpUrl);
      if (!page.text.includes('name="SAMLResponse"')) throw new Error(`no response: ${page.status} ${page.text.slice(0, 200)}`);
    });
    // Each binding against the baseline in alternating slices (bench/lib/load.ts alternate()).
    const r = await alternate(SLICES, samlifyLoad, () => sso('redirect'), mergeDriven);
    const p = await alternate(SLICES, samlifyLoad, () => sso('post'), mergeDriven);
    const redirect = r.product;
    const post = p.product;
    const baseline = mergeDriven([r.baseline, p.baseline]);
    const ratio = r.ratio;
    report('saml-sso', `HTTP-Redirect: ${redirect.perSecond} SP-initiated sign-ins/s (request in, signed response out) = ${ratio} × raw samlify response signing (${baseline.perSecond}/s on one core; median of ${SLICES} alternating slices: ${r.ratios.join(', ')}), p50 ${redirect.p50ms} ms, p99 ${redirect.p99ms} ms; HTTP-POST (one more request): ${post.perSecond}/s = ${p.ratio} ×; schema validation ${schema.perMessage.p50ms} ms/message`, {
      concurrency: CONCURRENCY,
      slices: SLICES,
      baselineSamlifyResponses: baseline,
      spInitiatedSso: { redirect, post },
      ratios: { redirect: ratio, post: p.ratio, redirectPerSlice: r.ratios, postPerSlice: p.ratios },
      schemaValidation: schema,
      signing: 'Response and Assertion, RSA-SHA256, RSA-2048',
    });
  } finally {
    await bench.stop();
  }
}

await main();
