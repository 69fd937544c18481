// Inbound SAML is hostile until proved otherwise. Each case starts from a genuinely signed
// message (the test SP's real key), tampers with it the way attackers do, and checks
// that the IdP refuses it with an error page — no Response, no redirect, no post — and
// that no session changed: no SSO session appears for the attacker, the victim's stays.
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import type { Response } from 'supertest';
import { newSamlKeyPair } from '../../src/config/key-material.ts';
import { checkRelayState } from '../../src/protocols/saml/inbound/check-relay-state.ts';
import type { CheckContext, InboundMessage } from '../../src/protocols/saml/inbound/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64, logoutRequestXml, logoutResponseXml, messageId, redirectQuery, signXml } from '../support/saml-messages.ts';

describe('SAML: hostile inbound messages', () => {
  let t: TestIdp;
  let sso: string;
  let slo: string;
  const strict = testSp({ id: 'strict-sp', authnRequestsSigned: true, slo: 'http://127.0.0.1:9/strict/slo' });
  const open = testSp({ id: 'open-sp', slo: 'http://127.0.0.1:9/open/slo' });
  const attackerKeys = newSamlKeyPair('attacker');

  before(async () => {
    t = await startTestIdp({ serviceProviders: [strict.file, open.file] });
    sso = `${t.url}/saml/sso`;
    slo = `${t.url}/saml/slo`;
  });
  after(async () => {
    await t.close();
  });

  const signedRequest = (over: Partial<Parameters<typeof authnRequestXml>[0]> = {}) =>
    signXml(authnRequestXml({ issuer: strict.entityId, destination: sso, ...over }));

  async function assertions(): Promise<number> {
    return (await t.idp.audit.recent(1000, (e) => e.type === 'saml.assertion')).length;
  }

  /**
   * Refused with an error page carrying `code`; nothing sent anywhere; and the log line
   * of that request (found by the page's reference) gives `reason`.
   */
  function assertRefused(res: Response, code: string, reason: RegExp): void {
    assert.ok(res.status >= 400 && res.status < 600, `status ${res.status}`);
    assert.equal(res.headers.location, undefined, 'no redirect');
    assert.match(res.text, new RegExp(code));
    assert.doesNotMatch(res.text, /SAMLResponse|data-autosubmit/, 'nothing posted to an SP');
    const reference = /Reference: <code>([A-Za-z0-9_-]+)<\/code>/.exec(res.text)?.[1];
    assert.ok(reference, 'the page shows a reference');
    const line = t.logs.find((l) => l.includes(`"requestId":"${reference}"`) && /"errorCode"/.test(l));
    assert.ok(line, `a log line for reference ${reference}`);
    assert.match(JSON.parse(line).detail ?? '', reason);
  }

  async function assertNoSession(b: Browser): Promise<void> {
    assert.match((await b.open('/portal')).res.text, /name="password"/, 'no SSO session');
  }

  /** A browser with a live SSO session that has signed in to `sp` over SAML. */
  async function victim(): Promise<{ b: Browser; sessionIndex: string }> {
    const b = new Browser(t.url);
    const signIn = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: open.entityId })) }));
    const page = await b.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password);
    const xml = Buffer.from(autoForm(page.res.text).fields.SAMLResponse!, 'base64').toString('utf8');
    return { b, sessionIndex: /SessionIndex="([^"]+)"/.exec(xml)![1]! };
  }

  async function assertStillSignedIn(b: Browser): Promise<void> {
    assert.match((await b.open('/portal')).res.text, /Allen Tan/, 'the victim is still signed in');
  }

  it('accepts the genuine signed request it starts from (the baseline)', async () => {
    const b = new Browser(t.url);
    const res = await b.post('/saml/sso', { SAMLRequest: base64(signedRequest()) });
    assert.equal(res.status, 303);
    assert.match(res.headers.location!, /^\/saml\/resume\//);
  });

  it('refuses a signed request wrapped in forged content (signature wrapping, samlify #634)', async () => {
    const before = await assertions();
    const genuine = signedRequest();
    // The forged root carries the attacker's ACS; the genuinely signed request hides inside,
    // in a foreign element where the schema allows anything (so only the signature rules decide).
    const wrapped = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${messageId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso}" AssertionConsumerServiceURL="https://evil.example/acs"><saml:Issuer>${strict.entityId}</saml:Issuer><samlp:Extensions><x:wrap xmlns:x="urn:example:wrap">${genuine}</x:wrap></samlp:Extensions></samlp:AuthnRequest>`;
    const b = new Browser(t.url);
    // Placed where the schema does not allow it, the schema check refuses it first.
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(wrapped.replace(/<x:wrap[^>]*>|<\/x:wrap>/g, '')) }), 'SSPR 5130', /not valid against the SAML schema/);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(wrapped) }), 'SSPR 5130', /Signature is not on the root element/);
    // The same, with the genuine signature copied onto the forged root.
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(genuine)![0];
    const moved = wrapped.replace(`</saml:Issuer>`, `</saml:Issuer>${signature}`);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(moved) }), 'SSPR 5130', /more than one Signature|does not reference the root/);
    await assertNoSession(b);
    assert.equal(await assertions(), before);
  });

  it('refuses a LogoutRequest that wraps a signed element around a victim\'s NameID (samlify #634)', async () => {
    const { b, sessionIndex } = await victim();
    const signedOther = signXml(authnRequestXml({ issuer: open.entityId, destination: sso }));
    const forged = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${messageId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${slo}"><saml:Issuer>${open.entityId}</saml:Issuer><samlp:Extensions><x:wrap xmlns:x="urn:example:wrap">${signedOther}</x:wrap></samlp:Extensions><saml:NameID>${DEMO.student.loginId}</saml:NameID><samlp:SessionIndex>${sessionIndex}</samlp:SessionIndex></samlp:LogoutRequest>`;
    assertRefused(await b.post('/saml/slo', { SAMLRequest: base64(forged) }), 'SSPR 5130', /Signature is not on the root element/);
    await assertStillSignedIn(b);
  });

  it('refuses re-ordered XML and re-encoded HTTP-Redirect parameters', async () => {
    const b = new Browser(t.url);
    // Issuer after NameIDPolicy, genuinely signed: only the order is wrong.
    const xml = authnRequestXml({ issuer: strict.entityId, destination: sso });
    const reordered = xml.replace(/(<saml:Issuer>[^<]*<\/saml:Issuer>)(<samlp:NameIDPolicy[^>]*\/>)/, '$2$1');
    assert.notEqual(reordered, xml);
    const signed = signXml(reordered).replace(/(<ds:Signature[\s\S]*<\/ds:Signature>)(<saml:Issuer>[^<]*<\/saml:Issuer>)/, '$2$1');
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signed) }), 'SSPR 5130', /not valid against the SAML schema/);
    // The signed octets are the query as sent: the same values encoded differently do not verify.
    const query = redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { relayState: 'a/b+c' });
    const reencoded = query.replace('RelayState=a%2Fb%2Bc', 'RelayState=a%2fb%2bc');
    assert.notEqual(reencoded, query);
    assertRefused(await b.get(`/saml/sso?${reencoded}`), 'SSPR 5130', /HTTP-Redirect signature does not verify/);
    await assertNoSession(b);
  });

  it('refuses a replayed request', async () => {
    const b = new Browser(t.url);
    const message = base64(signedRequest());
    assert.equal((await b.post('/saml/sso', { SAMLRequest: message })).status, 303);
    assertRefused(await new Browser(t.url).post('/saml/sso', { SAMLRequest: message }), 'SSPR 5133', /already used/);
    const query = redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }));
    assert.equal((await b.get(`/saml/sso?${query}`)).status, 303);
    assertRefused(await b.get(`/saml/sso?${query}`), 'SSPR 5133', /already used/);
  });

  it('refuses SHA-1 signatures over both bindings', async () => {
    const b = new Browser(t.url);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signXml(authnRequestXml({ issuer: strict.entityId, destination: sso }), 'sha1')) }), 'SSPR 5130', /signature algorithm not allowed: .*rsa-sha1/);
    assertRefused(await b.get(`/saml/sso?${redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { alg: 'sha1' })}`), 'SSPR 5130', /signature algorithm not allowed: .*rsa-sha1/);
    await assertNoSession(b);
  });

  it('refuses a wrong Destination, and a signed message without one', async () => {
    const b = new Browser(t.url);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ destination: 'https://other-idp.example/saml/sso' })) }), 'SSPR 5130', /Destination https:\/\/other-idp\.example\/saml\/sso is not/);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ destination: null })) }), 'SSPR 5130', /a signed message must name its Destination/);
  });

  it('refuses an unregistered ACS with an error page: no redirect, no post', async () => {
    const b = new Browser(t.url);
    const res = await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ acs: 'https://evil.example/acs' })) });
    assertRefused(res, 'SSPR 5132', /https:\/\/evil\.example\/acs is not registered/);
    assert.doesNotMatch(res.text, /evil\.example/);
    const index = await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ acsIndex: 7 })) });
    assertRefused(index, 'SSPR 5132', /index 7 is not registered/);
  });

  it('refuses a DOCTYPE (entity expansion, external entities)', async () => {
    const b = new Browser(t.url);
    const lol = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>`;
    const xml = lol + authnRequestXml({ issuer: open.entityId, destination: sso }).replace('</saml:Issuer>', '</saml:Issuer>');
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(xml) }), 'SSPR 5130', /contains a DOCTYPE/);
    const xxe = `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + authnRequestXml({ issuer: open.entityId, destination: sso });
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(xxe) }), 'SSPR 5130', /contains a DOCTYPE/);
    const pi = authnRequestXml({ issuer: open.entityId, destination: sso }).replace('<saml:Issuer>', '<?evil x?><saml:Issuer>');
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(pi) }), 'SSPR 5130', /processing instruction/);
  });

  it('refuses a comment inside a signed NameID, and keeps the victim signed in', async () => {
    const { b, sessionIndex } = await victim();
    // Canonicalisation drops comments: the signature would hold for "…sg.evil.example" read as "…sg".
    const xml = logoutRequestXml({ issuer: open.entityId, destination: slo, nameId: 'allen_tan@students.edu.sg<!---->.evil.example', sessionIndex });
    assertRefused(await b.get(`/saml/slo?${redirectQuery('SAMLRequest', xml)}`), 'SSPR 5130', /contains a comment/);
    assertRefused(await b.post('/saml/slo', { SAMLRequest: base64(signXml(xml)) }), 'SSPR 5130', /contains a comment/);
    await assertStillSignedIn(b);
  });

  it('refuses a deflate bomb at the size cap, and oversized bodies', async () => {
    const b = new Browser(t.url);
    // The largest bomb a URL carries (Node takes 16 KB of headers): 8 MB once inflated.
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 }).toString('base64');
    assert.ok(bomb.length < 14_000);
    assertRefused(await b.get(`/saml/sso?SAMLRequest=${encodeURIComponent(bomb)}`), 'SSPR 5130', /inflated message larger than 65536 bytes/);
    // HTTP-POST may be DEFLATE'd too (node-saml's default): the same cap.
    const postBomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 }).toString('base64');
    assertRefused(await b.post('/saml/sso', { SAMLRequest: postBomb }), 'SSPR 5130', /inflated message larger than 65536 bytes/);
    const xmlBomb = deflateRawSync(Buffer.concat([Buffer.from('<samlp:AuthnRequest '), Buffer.alloc(8 * 1024 * 1024, 0x20)]), { level: 9 }).toString('base64');
    assertRefused(await b.post('/saml/slo', { SAMLResponse: xmlBomb }), 'SSPR 5130', /inflated message larger than 65536 bytes/);
    // Neither XML nor DEFLATE'd XML.
    assertRefused(await b.post('/saml/sso', { SAMLRequest: Buffer.from([0xff, 0x00, 0x13, 0x37]).toString('base64') }), 'SSPR 5130', /not DEFLATE-encoded|neither XML/);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: deflateRawSync(Buffer.from('not XML at all')).toString('base64') }), 'SSPR 5130', /neither XML nor DEFLATE-encoded XML/);
    // HTTP-POST: the form body is capped before anything is decoded.
    const res = await b.post('/saml/sso', { SAMLRequest: 'A'.repeat(200 * 1024) });
    assertRefused(res, 'SSPR 5103', /too large/i);
  });

  it('refuses duplicate parameters', async () => {
    const b = new Browser(t.url);
    const query = redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }));
    const first = /SAMLRequest=[^&]+/.exec(query)![0];
    assertRefused(await b.get(`/saml/sso?${query}&${first}`), 'SSPR 5130', /SAMLRequest given twice/);
    assertRefused(await b.get(`/saml/sso?${query}&RelayState=a&RelayState=b`), 'SSPR 5130', /RelayState given twice/);
    const res = await b.agent.post('/saml/sso').type('form').send(`SAMLRequest=${encodeURIComponent(base64(signedRequest()))}&SAMLRequest=x`).redirects(0);
    assertRefused(res, 'SSPR 5130', /SAMLRequest given twice/);
  });

  it('enforces "requests must be signed" and verifies with the Issuer\'s own keys only', async () => {
    const b = new Browser(t.url);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: strict.entityId, destination: sso })) }), 'SSPR 5130', /strict-sp must sign its requests/);
    assertRefused(await b.get(`/saml/sso?${redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { sign: false })}`), 'SSPR 5130', /strict-sp must sign its requests/);
    // Signed, but with a key that is not this SP's.
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signXml(authnRequestXml({ issuer: strict.entityId, destination: sso }), 'sha256', attackerKeys)) }), 'SSPR 5130', /XML signature does not verify with the SP's keys/);
    assertRefused(await b.get(`/saml/sso?${redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { key: attackerKeys })}`), 'SSPR 5130', /HTTP-Redirect signature does not verify/);
    // An Issuer nobody registered.
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: 'https://unknown.example/sp', destination: sso })) }), 'SSPR 5131', /no service provider with entityID https:\/\/unknown\.example\/sp/);
    await assertNoSession(b);
  });

  it('refuses requests that are too old or from the future', async () => {
    const b = new Browser(t.url);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ issueInstantOffsetMs: -10 * 60_000 })) }), 'SSPR 5130', /IssueInstant is too old/);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signedRequest({ issueInstantOffsetMs: 5 * 60_000 })) }), 'SSPR 5130', /IssueInstant is in the future/);
  });

  it('bounds RelayState', async () => {
    const b = new Browser(t.url);
    assertRefused(await b.post('/saml/sso', { SAMLRequest: base64(signedRequest()), RelayState: 'r'.repeat(81) }), 'SSPR 5130', /RelayState longer than 80 bytes/);
    assertRefused(await b.get(`/saml/sso?${redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { relayState: 'x'.repeat(200) })}`), 'SSPR 5130', /RelayState longer than 80 bytes/);
  });

  it('refuses an unsigned LogoutRequest, and one for a session that is not this browser\'s', async () => {
    const { b, sessionIndex } = await victim();
    const xml = logoutRequestXml({ issuer: open.entityId, destination: slo, nameId: DEMO.student.loginId, sessionIndex });
    assertRefused(await b.get(`/saml/slo?${redirectQuery('SAMLRequest', xml, { sign: false })}`), 'SSPR 5130', /LogoutRequest without a signature/);
    assertRefused(await b.post('/saml/slo', { SAMLRequest: base64(xml) }), 'SSPR 5130', /LogoutRequest without a signature/);
    await assertStillSignedIn(b);
    // Properly signed, but naming another session: the SP is told no, nothing ends.
    const other = logoutRequestXml({ issuer: open.entityId, destination: slo, nameId: DEMO.student.loginId, sessionIndex: '_not-this-session' });
    const answer = await b.follow(await b.get(`/saml/slo?${redirectQuery('SAMLRequest', other)}`));
    assert.match(answer.external ?? '', /^http:\/\/127\.0\.0\.1:9\/open\/slo\?SAMLResponse=/);
    await assertStillSignedIn(b);
  });

  /** Refusals counted under `code` in /metrics so far. */
  async function refusedCount(code = 'SSPR 5130'): Promise<number> {
    const metrics = (await new Browser(t.url).get('/metrics')).text;
    return Number(new RegExp(`idp_saml_refused_total\\{code="${code}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  }

  it('refuses malformed percent-encoding in every HTTP-Redirect parameter: 400, counted, a warning at most', async () => {
    const { b, sessionIndex } = await victim();
    const messages: Array<[string, string]> = [
      ['/saml/sso', redirectQuery('SAMLRequest', authnRequestXml({ issuer: strict.entityId, destination: sso }), { relayState: 'r' })],
      ['/saml/slo', redirectQuery('SAMLRequest', logoutRequestXml({ issuer: open.entityId, destination: slo, nameId: DEMO.student.loginId, sessionIndex }), { relayState: 'r' })],
      ['/saml/slo', redirectQuery('SAMLResponse', logoutResponseXml({ issuer: open.entityId, destination: slo, inResponseTo: '_x' }), { relayState: 'r' })],
    ];
    for (const [endpoint, query] of messages) {
      const param = query.startsWith('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
      for (const name of [param, 'RelayState', 'SigAlg', 'Signature']) {
        for (const bad of ['%ZZ', '%E0%A4%A', '%']) {
          // The bad escape replaces the value, or is appended to it (a valid prefix).
          for (const tampered of [query.replace(new RegExp(`(^|&)${name}=[^&]*`), `$1${name}=${bad}`), query.replace(new RegExp(`(^|&)(${name}=[^&]*)`), `$1$2${bad}`)]) {
            assert.notEqual(tampered, query);
            const before = await refusedCount();
            const res = await b.get(`${endpoint}?${tampered}`);
            assert.equal(res.status, 400, `${endpoint} ${name}=${bad}: status ${res.status}`);
            assertRefused(res, 'SSPR 5130', new RegExp(`${name} is not valid URL encoding`));
            assert.equal(await refusedCount(), before + 1, `${endpoint} ${name}=${bad} is counted`);
            const reference = /Reference: <code>([A-Za-z0-9_-]+)<\/code>/.exec(res.text)![1]!;
            for (const line of t.logs.filter((l) => l.includes(`"requestId":"${reference}"`))) {
              assert.ok(JSON.parse(line).level <= 40, `nothing above warn: ${line}`);
              assert.doesNotMatch(line, /URIError|"stack"/);
            }
          }
        }
      }
    }
    // HTTP-POST: the form decoder keeps a bad escape as it was sent; never a 5xx.
    const request = encodeURIComponent(base64(authnRequestXml({ issuer: open.entityId })));
    for (const [endpoint, body] of [
      ['/saml/sso', 'SAMLRequest=%ZZ'], ['/saml/sso', 'SAMLRequest=%E0%A4%A'], ['/saml/slo', 'SAMLResponse=%ZZ'], ['/saml/slo', 'SAMLResponse=%E0%A4%A'],
      ['/saml/sso', `SAMLRequest=${request}&SigAlg=%ZZ&Signature=%E0%A4%A`],
    ]) {
      const res = await b.agent.post(endpoint!).type('form').send(body!).redirects(0);
      assert.equal(res.status, 400, `${endpoint} ${body!.slice(-30)}: status ${res.status}`);
      assert.match(res.text, /SSPR 5130/);
    }
    const relayed = await b.agent.post('/saml/sso').type('form').send(`SAMLRequest=${request}&RelayState=%E0%A4%A`).redirects(0);
    assert.equal(relayed.status, 303, 'RelayState is taken as the form decoder left it');
    await assertStillSignedIn(b);
  });

  it('takes HTTP-POST messages only as forms (a JSON RelayState with a lone surrogate was a 503), and refuses RelayState that is not well-formed Unicode', async () => {
    const { b, sessionIndex } = await victim();
    const request = () => base64(signXml(logoutRequestXml({ issuer: open.entityId, destination: slo, nameId: DEMO.student.loginId, sessionIndex })));
    // A lone surrogate cannot come out of a form (UTF-8), but can out of JSON; either way it is refused.
    const json = await b.agent.post('/saml/slo').type('json').send(JSON.stringify({ SAMLRequest: request(), RelayState: 'a\ud800' })).redirects(0);
    assertRefused(json, 'SSPR 5130', /HTTP-POST message that is not a form/);
    const noType = await b.agent.post('/saml/slo').set('Content-Type', 'text/plain').send(`SAMLRequest=${encodeURIComponent(request())}`).redirects(0);
    assertRefused(noType, 'SSPR 5130', /HTTP-POST message that is not a form/);
    // A form cannot carry one; the RelayState check refuses it all the same.
    assert.throws(() => checkRelayState({ relayState: 'a\ud800', sp: { relayStateMaxBytes: 80 } } as unknown as InboundMessage, {} as CheckContext), /RelayState is not well-formed Unicode/);
    await assertStillSignedIn(b);
  });

  it('answers malformed percent-encoding in SAML URL paths with a 4xx page, never a 5xx', async () => {
    const b = new Browser(t.url);
    for (const path of ['/saml/resume/%E0%A4%A', '/saml/resume/%ZZ/abort', '/saml/launch/%ZZ', '/saml/slo/request/%E0%A4%A', '/saml/slo/next/%ZZ']) {
      const res = await b.get(path);
      assert.ok(res.status < 500, `${path}: status ${res.status}`);
      assert.doesNotMatch(res.text, /URIError|SSPR 5019/, path);
    }
  });

  it('counts refusals in /metrics', async () => {
    const metrics = await new Browser(t.url).get('/metrics');
    assert.match(metrics.text, /idp_saml_refused_total\{code="SSPR 5130"\} [1-9]/);
  });
});
