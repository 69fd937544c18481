// SAML back-channel logout (SOAP binding) when the IdP ends an account's sessions without
// a browser: what counts as the SP's confirmation. The SPs here are HTTP servers that
// answer as each test says; only a LogoutResponse that passes the inbound checks (signed
// by the SP when its metadata has a signing key), answers our request, comes from that SP
// and says Success is "told". Also the outbound rules: no redirects, SSRF.
import assert from 'node:assert/strict';
import { newSamlKeyPair } from '../../src/config/key-material.ts';
import { isSpecialUse, OutboundError, postOutbound } from '../../src/protocols/outbound-http.ts';
import { captureServer, logoutRequestOf, soapEnvelope, soapSp, type Answer, type Captured, type CaptureServer } from '../support/backchannel.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';

const SITI_ID = 'cli:test';

describe('SAML back-channel logout over SOAP', () => {
  let t: TestIdp;
  let server: CaptureServer;
  let redirectTarget: CaptureServer;
  const behaviours: Record<string, (req: Captured) => Answer> = {};
  const sps: Record<string, ReturnType<typeof testSp>> = {};
  const otherKey = newSamlKeyPair('not the SP key');

  function sp(id: string, behaviour: (entityId: string) => (req: Captured) => Answer, options: Parameters<typeof testSp>[0] = {}) {
    sps[id] = testSp({ id, soapSlo: `${server.url}/${id}`, ...options });
    behaviours[id] = behaviour(sps[id].entityId);
  }

  before(async () => {
    server = await captureServer((req) => behaviours[req.path.slice(1)]!(req));
    redirectTarget = await captureServer();
    const idp = () => t.url;
    sp('confirms', (e) => soapSp(e, idp));
    sp('unsigned', (e) => soapSp(e, idp, { sign: false }));
    sp('keyless', (e) => soapSp(e, idp, { sign: false }), { withoutSigningKey: true });
    sp('wrong-key', (e) => soapSp(e, idp, { key: otherKey }));
    sp('other-request', (e) => soapSp(e, idp, { inResponseTo: '_not-our-request' }));
    sp('partial', (e) => soapSp(e, idp, { status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }));
    sp('impostor', () => soapSp(sps.confirms!.entityId, idp));
    sp('fault', () => () => ({ status: 500, type: 'text/xml', body: soapEnvelope('<S:Fault><faultcode>S:Server</faultcode><faultstring>no such session</faultstring></S:Fault>') }));
    sp('redirects', () => () => ({ status: 302, headers: { location: `${redirectTarget.url}/elsewhere` } }));
    sp('doctype', (e) => (req) => {
      const ok = soapSp(e, idp)(req);
      return { ...ok, body: `<!DOCTYPE x [<!ENTITY a "b">]>${ok.body}` };
    });
    t = await startTestIdp({ serviceProviders: Object.values(sps).map((s) => s.file) });
  });
  after(async () => {
    await t.close();
    await server.close();
    await redirectTarget.close();
  });

  it('counts an SP as told only when its LogoutResponse passes every check', async () => {
    const b = new Browser(t.url);
    const index: Record<string, string> = {};
    for (const [id, s] of Object.entries(sps)) {
      let page = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: s.entityId })) }));
      if (/name="password"/.test(page.res.text)) page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      index[id] = /SessionIndex="([^"]+)"/.exec(Buffer.from(autoForm(page.res.text).fields.SAMLResponse!, 'base64').toString('utf8'))![1]!;
    }
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const { signOut } = await t.idp.administration.resetPassword({ kind: 'ministry' }, { id: SITI_ID } as never, allen.id, {});

    const outcome = Object.fromEntries(signOut.notices.map((n) => [n.id, `${n.outcome}${n.detail ? `: ${n.detail}` : ''}`]));
    assert.equal(outcome.confirms, 'told');
    assert.equal(outcome.keyless, 'told', 'an SP without a signing key may answer unsigned');
    assert.match(outcome.unsigned!, /^failed: LogoutResponse refused: LogoutResponse without a signature from unsigned, whose metadata has a signing key/);
    assert.match(outcome['wrong-key']!, /^failed: LogoutResponse refused: XML signature does not verify/);
    assert.match(outcome['other-request']!, /^failed: LogoutResponse does not answer our LogoutRequest/);
    assert.match(outcome.partial!, /^failed: status urn:oasis:names:tc:SAML:2.0:status:Responder/);
    assert.match(outcome.impostor!, /^failed: LogoutResponse issued by confirms, not by impostor/);
    assert.match(outcome.fault!, /^failed: HTTP 500 from the SP \(SOAP Fault: no such session\)/);
    assert.match(outcome.redirects!, /^failed: HTTP 302 from the SP/);
    assert.equal(redirectTarget.requests.length, 0, 'the redirect was not followed');
    assert.match(outcome.doctype!, /^failed: LogoutResponse refused: SOAP envelope: message contains a DOCTYPE/);

    // Each SP was sent one LogoutRequest for its own participation.
    for (const id of Object.keys(sps)) {
      const got = server.requests.filter((r) => r.path === `/${id}`);
      assert.equal(got.length, 1, id);
      assert.match(logoutRequestOf(got[0]!.body), new RegExp(`<samlp:SessionIndex>${index[id]}</samlp:SessionIndex>`));
    }
    const audit = await t.idp.audit.recent(30, (e) => e.type === 'logout.backchannel' && e.accountId === allen.id);
    assert.equal(audit.length, Object.keys(sps).length);
    assert.match(audit.find((e) => e.client === 'unsigned')!.reason!, /^saml failed: LogoutResponse refused/);
    const metrics = (await b.get('/metrics')).text;
    assert.match(metrics, /idp_saml_refused_total\{code="SSPR 5130"\} [1-9]/);
  });

  describe('outbound rules', () => {
    it('refuses special-use addresses unless the IdP itself runs on loopback and the target is loopback', async () => {
      for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1']) assert.equal(isSpecialUse(a), true, a);
      for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isSpecialUse(a), false, a);
      const options = { timeoutMs: 1000, maxBytes: 1000, idpUrl: 'https://idp.example.edu' };
      await assert.rejects(postOutbound('http://169.254.169.254/latest/meta-data', '', {}, options), (e: Error) => e instanceof OutboundError && /special-use/.test(e.message));
      await assert.rejects(postOutbound(`${redirectTarget.url}/x`, '', {}, options), (e: Error) => e instanceof OutboundError && /special-use/.test(e.message));
      await assert.rejects(postOutbound(`http://localhost:${new URL(redirectTarget.url).port}/x`, '', {}, options), (e: Error) => e instanceof OutboundError && /special-use/.test(e.message));
      await assert.rejects(postOutbound('file:///etc/passwd', '', {}, options), OutboundError);
      assert.equal(redirectTarget.requests.length, 0, 'nothing reached the loopback server');
      // The IdP on loopback (npm start, tests) may call loopback.
      const ok = await postOutbound(`${redirectTarget.url}/y`, 'hello', {}, { ...options, idpUrl: t.url });
      assert.equal(ok.status, 200);
      assert.equal(redirectTarget.requests.length, 1);
    });

    it('follows no redirect, caps the answer and the time', async () => {
      const odd = await captureServer((req) => (req.path === '/big' ? { body: 'x'.repeat(5000) } : req.path === '/slow' ? { hang: true } : { status: 307, body: '' }));
      try {
        const options = { timeoutMs: 300, maxBytes: 1000, idpUrl: t.url };
        const moved = await postOutbound(`${odd.url}/moved`, '', {}, options);
        assert.equal(moved.status, 307);
        assert.equal(odd.requests.length, 1, 'the redirect was not followed');
        await assert.rejects(postOutbound(`${odd.url}/big`, '', {}, options), /answer larger than 1000 bytes/);
        const started = Date.now();
        await assert.rejects(postOutbound(`${odd.url}/slow`, '', {}, options), /no answer within 300 ms/);
        assert.ok(Date.now() - started < 2000);
      } finally {
        await odd.close();
      }
    });
  });
});
