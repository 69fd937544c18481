// Issue 15, item 2 for SAML: the login page of an SP's request, left open past the idle
// timeout, signs in on its first submit and answers the SP while the pending sign-in lives.
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, redirectQuery } from '../support/saml-messages.ts';

describe('SAML: an expired login page still answers the SP on its first submit', () => {
  const sp = testSp({ id: 'idle-sp', acs: ['http://127.0.0.1:9/idle/acs'] });
  let t: TestIdp;
  let offset = 0;
  before(async () => {
    t = await startTestIdp({ clock: () => Date.now() + offset, serviceProviders: [sp.file] });
  });
  after(async () => {
    await t.close();
  });

  it('signs in and posts the Response to the SP', async () => {
    const b = new Browser(t.url);
    const xml = authnRequestXml({ issuer: sp.entityId, destination: `${t.url}/saml/sso`, acs: 'http://127.0.0.1:9/idle/acs' });
    const page = await b.open(`/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`);
    assert.match(page.res.text, /name="password"/);
    offset += 4 * 60_000 + 1_000;
    try {
      const done = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      const form = autoForm(done.res.text);
      assert.equal(form.action, 'http://127.0.0.1:9/idle/acs');
      assert.ok(form.fields.SAMLResponse, 'a Response for the SP');
    } finally {
      offset = 0;
    }
  });
});
