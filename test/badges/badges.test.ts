// Issue 28, item 1 over HTTP: sign-in badges. Daniel Wong (form teacher of 2A) prints a badge
// for Allen Tan (P2, 2A); its QR code is read from the printed page's pixels (jsQR) and
// posted as the sign-in page's scanner posts it. What must be refused is refused with words
// and changes nothing: a made-up badge, a voided one, one replayed into a finished sign-in,
// one whose pupil became staff, one outside school hours or networks, five wrong PINs.
import assert from 'node:assert/strict';
import { schoolYear } from '../../src/domain/classes/classes.ts';
import { Browser, formOf } from '../support/browser.ts';
import { printedBadges } from '../support/badges.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { idOf, signedIn } from '../support/people.ts';
import { authRequest, discover, redeem, WEB } from '../support/rp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const YEAR = schoolYear(Date.now());
const CLASS_2A = `/admin/classes/DEMO01/${YEAR}/2A`;

/** Daniel prints badges for these pupils of 2A from the class page; the cards as read from the page. */
async function printFor(teacher: Browser, ids: string[]) {
  const page = await teacher.get(CLASS_2A);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.match(page.text, /Print Sign-in Badges/);
  const form = /<form method="post" action="([^"]+)" class="form wide">[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page.text)!;
  const printed = await teacher.agent.post(new URL(`${CLASS_2A}/badges`, teacher.base).pathname).type('form').send(`_csrf=${encodeURIComponent(form[2]!)}&lang=en&${ids.map((id) => `account=${id}`).join('&')}`).redirects(0);
  assert.equal(printed.status, 200, printed.text.slice(0, 500));
  return { html: printed.text, cards: printedBadges(printed.text) };
}

/** The SSO session id a browser holds. */
function ssoOf(b: Browser): string | undefined {
  return b.cookies('idp_sso')[0]?.slice('idp_sso='.length);
}

/** A new browser scans `secret` on the portal's sign-in page (as badge.js posts it); where it lands. */
async function scan(t: TestIdp, secret: string, b = new Browser(t.url)) {
  const page = (await b.open('/portal')).res;
  assert.match(page.text, /Sign in with my badge/);
  const form = formOf(page.text, '/badge');
  const posted = await b.post(form.action, { ...form.hidden, badge: secret });
  return { b, form, posted, landed: await b.follow(posted) };
}

describe('sign-in badges over HTTP (issue 28, item 1)', () => {
  let t: TestIdp;
  let daniel: Browser;
  let allen: string;
  before(async () => {
    t = await startTestIdp();
    daniel = await signedIn(t, DEMO.staff);
    allen = await idOf(t, DEMO.student.loginId);
  });
  after(async () => {
    await t.close();
  });

  it('a form teacher prints a badge from the class page: a QR code a camera reads, the pupil\'s name and class, audited with the teacher\'s name; only a keyed hash is stored', async () => {
    const { html, cards } = await printFor(daniel, [allen]);
    assert.equal(cards.length, 1);
    assert.equal(cards[0]!.name, 'Allen Tan');
    assert.match(cards[0]!.secret, /^MIMS-BADGE:1:[A-Za-z0-9_-]{43}$/);
    assert.equal(cards[0]!.pin, null, 'no PIN by default');
    assert.match(html, /Rivervale Demo School · 2A/);
    assert.match(html, /1 new badge: print them now/);
    const events = await t.idp.audit.recent(10, (e) => e.type === 'badge.issued' && e.accountId === allen);
    assert.equal(events[0]?.actorName, 'Daniel Wong (form teacher)');
    const rows = await t.idp.database.query<{ secret_hash: string }>('select secret_hash from badges where account_id = $1', [allen]);
    assert.equal(rows.length, 1);
    assert.ok(!rows[0]!.secret_hash.includes(cards[0]!.secret.slice(13)), 'the secret is not stored');
    // The class page now says the pupil has a badge.
    assert.match((await daniel.get(CLASS_2A)).text, /data-badge="yes"/);
  });

  it('the badge signs the pupil in (amr badge: not a password, never two-step), and a scan posted again into the finished sign-in is refused', async () => {
    const { cards } = await printFor(daniel, [allen]);
    const { b, form, posted, landed } = await scan(t, cards[0]!.secret);
    assert.equal(landed.res.status, 200, landed.res.text.slice(0, 400));
    assert.match(landed.res.text, /Allen Tan/);
    const session = await t.idp.sso.get(ssoOf(b));
    assert.deepEqual(session?.amr, ['badge']);
    const success = await t.idp.audit.recent(5, (e) => e.type === 'signin.success' && e.accountId === allen);
    assert.equal(success[0]?.reason, 'badge');
    // The same scan sent again (Back, then the form again): the flow is finished, nobody else is signed in.
    const again = await b.post(form.action, { ...form.hidden, badge: cards[0]!.secret });
    assert.equal(again.status, 410, again.text.slice(0, 300));
    assert.match(again.text, /already/i);
    void posted;
  });

  it('an app (openid-client, code flow) is told how: amr ["badge"], acr urn:school-idp:acr:badge, also when it asked for two-step sign-in voluntarily', async () => {
    const { cards } = await printFor(daniel, [allen]);
    const config = await discover(t, WEB.id, WEB.secret);
    for (const params of [{ scope: 'openid' }, { scope: 'openid', acr_values: 'urn:school-idp:acr:mfa' }] as Array<Record<string, string>>) {
      const req = await authRequest(config, WEB.redirect, params);
      const b = new Browser(t.url);
      const page = await b.open(req.url.toString());
      assert.match(page.res.text, /Sign in with my badge/);
      const form = formOf(page.res.text, '/badge');
      const back = await b.follow(await b.post(form.action, { ...form.hidden, badge: cards[0]!.secret }));
      assert.ok(back.external?.startsWith(WEB.redirect), back.res.text.slice(0, 300));
      const claims = (await redeem(config, req, back.external)).claims()!;
      assert.deepEqual(claims.amr, ['badge']);
      assert.equal(claims.acr, 'urn:school-idp:acr:badge');
    }
    // Insisting on two-step sign-in (essential acr): a badge cannot meet it.
    const req = await authRequest(config, WEB.redirect, { scope: 'openid', claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:school-idp:acr:mfa'] } } }) });
    const b = new Browser(t.url);
    const page = await b.open(req.url.toString());
    const form = formOf(page.res.text, '/badge');
    const back = await b.follow(await b.post(form.action, { ...form.hidden, badge: cards[0]!.secret }));
    assert.match(back.external ?? '', /error=unmet_authentication_requirements/);
  });

  it('a made-up or malformed badge gets one answer and signs nobody in', async () => {
    for (const value of ['MIMS-BADGE:1:' + 'A'.repeat(43), 'https://evil.example/', '', 'MIMS-BADGE:1:short']) {
      const { landed } = await scan(t, value);
      assert.equal(landed.res.status, 401, value);
      assert.match(landed.res.text, /This badge does not work. Ask your teacher for a new one./);
    }
    const refusals = await t.idp.audit.recent(10, (e) => e.type === 'signin.failure' && e.reason === 'badge_unknown');
    assert.ok(refusals.length >= 4);
  });

  it('printing again voids the badge before; voiding on the account page voids the new one', async () => {
    const first = (await printFor(daniel, [allen])).cards[0]!;
    const second = (await printFor(daniel, [allen])).cards[0]!;
    const old = await scan(t, first.secret);
    assert.equal(old.landed.res.status, 401);
    assert.match(old.landed.res.text, /This badge no longer works. Ask your teacher for a new one./);
    assert.equal((await scan(t, second.secret)).landed.res.status, 200);
    const account = await daniel.get(`/admin/accounts/${allen}`);
    assert.match(account.text, /Void Badge/);
    const voided = await daniel.follow(await daniel.submit(account, '/void-badge', {}));
    assert.match(voided.res.text, /Void Badge: done|Void Badge/);
    assert.match(voided.res.text, /data-badge="no"/);
    assert.match((await scan(t, second.secret)).landed.res.text, /This badge no longer works/);
    assert.ok((await t.idp.audit.recent(5, (e) => e.type === 'badge.voided' && e.accountId === allen)).length >= 1);
  });

  it('a badge for staff is refused: not printed for a staff account, and refused when its pupil became staff', async () => {
    const siti = await signedIn(t, SITI);
    const daniel2 = await idOf(t, DEMO.staff.loginId);
    const page = await siti.get(`/admin/accounts/${daniel2}`);
    assert.doesNotMatch(page.text, /Print a New Badge/, 'no badge offered for a staff account');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const refused = await siti.post(`/admin/accounts/${daniel2}/print-badge`, { _csrf: csrf, lang: 'en' });
    assert.equal(refused.status, 303);
    assert.match((await siti.follow(refused)).res.text, /This account may not have a sign-in badge/);
    assert.equal((await t.idp.database.query('select 1 from badges where account_id = $1', [daniel2])).length, 0);
    // A pupil's badge, then the account is given a staff role: the badge no longer signs in.
    const card = (await printFor(daniel, [allen])).cards[0]!;
    await t.idp.directory.update(allen, (a) => ({ ...a, roles: ['student', 'staff'] }));
    try {
      const { landed } = await scan(t, card.secret);
      assert.equal(landed.res.status, 401);
      assert.match(landed.res.text, /This badge cannot be used to sign in/);
    } finally {
      await t.idp.directory.update(allen, (a) => ({ ...a, roles: ['student'] }));
    }
  });

  it('a badge session is not asked the password\'s first-sign-in actions: a temporary password waits for the next password sign-in', async () => {
    const siti = await signedIn(t, SITI);
    const confirm = await siti.get(`/admin/accounts/${allen}/reset-password`);
    await siti.follow(await siti.submit(confirm, `/admin/accounts/${allen}/reset-password`, {}));
    assert.equal((await t.idp.directory.get(allen))?.mustChangePassword, true);
    const card = (await printFor(daniel, [allen])).cards[0]!;
    const { landed } = await scan(t, card.secret);
    assert.equal(landed.res.status, 200);
    assert.match(landed.res.text, /Allen Tan/);
    assert.doesNotMatch(landed.res.text, /Change Password/);
  });

  it('a form teacher cannot void every badge of the school; the school administrator can, and the badges stop working', async () => {
    const card = (await printFor(daniel, [allen])).cards[0]!;
    const classes = await daniel.get('/admin/classes');
    assert.doesNotMatch(classes.text, /Void Every Badge of the School/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec((await daniel.get(CLASS_2A)).text)![1]!;
    assert.equal((await daniel.post('/admin/badges/void', { _csrf: csrf })).status, 403);
    assert.equal((await scan(t, card.secret)).landed.res.status, 200, 'still valid');
    const siti = await signedIn(t, SITI);
    const list = await siti.get('/admin/classes');
    // One click is not enough: a confirmation page first (WCAG 3.3.4), naming the school.
    const confirm = await siti.submit(list, '/admin/badges/void', {});
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /<strong>DEMO01<\/strong>/);
    assert.equal((await scan(t, card.secret)).landed.res.status, 200, 'nothing voided before confirming');
    const done = await siti.follow(await siti.submit(confirm, '/admin/badges/void', {}));
    assert.match(done.res.text, /1 badge voided\./);
    assert.match((await scan(t, card.secret)).landed.res.text, /This badge no longer works/);
  });
});

describe('sign-in badges: school hours, school networks and a PIN (issue 28, item 1)', () => {
  // Saturday 9 January 2027, 11:00 in Singapore; then Monday 11 January, 10:00.
  let now = Date.parse('2027-01-09T03:00:00Z');
  const clock = () => now;
  let t: TestIdp;
  let allen: string;
  /** Daniel, signed in now (the clock jumps by days, past his session), prints a badge for Allen from his class page (of the clock's year: the seed's). */
  async function print(idp: TestIdp, accountId: string) {
    const teacher = await signedIn(idp, DEMO.staff);
    const path = `/admin/classes/DEMO01/${schoolYear(now)}/2A`;
    const page = await teacher.get(path);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const printed = await teacher.post(`${path}/badges`, { _csrf: csrf, lang: 'en', account: accountId });
    assert.equal(printed.status, 200, printed.text.slice(0, 400));
    return { teacher, html: printed.text, cards: printedBadges(printed.text) };
  }
  before(async () => {
    t = await startTestIdp({ clock, overrides: { badges: { levels: ['P1', 'P2', 'P3'], pinDigits: 4, hours: { days: [1, 2, 3, 4, 5], from: '07:00', to: '15:00' }, networks: ['127.0.0.0/8'] } } });
    allen = await idOf(t, DEMO.student.loginId);
  });
  after(async () => {
    await t.close();
  });

  it('outside school hours a badge is refused with words; within them it asks the PIN, which is printed on the teacher\'s list only', async () => {
    now = Date.parse('2027-01-09T03:00:00Z');
    const { html, cards } = await print(t, allen);
    const card = cards[0]!;
    assert.match(card.pin ?? '', /^\d{4}$/);
    const onCard = /<article class="badge-card"[\s\S]*?<\/article>/.exec(html)![0];
    assert.ok(!onCard.includes(card.pin!), 'the PIN is not on the card');
    const weekend = await scan(t, card.secret);
    assert.equal(weekend.landed.res.status, 401);
    assert.match(weekend.landed.res.text, /Badges work only during school hours/);
    now = Date.parse('2027-01-11T02:00:00Z');
    const monday = await scan(t, card.secret);
    assert.equal(monday.landed.res.status, 200);
    assert.match(monday.landed.res.text, /Hello, Allen! Type the 4 numbers of your PIN./);
    const signedInNow = await monday.b.follow(await monday.b.submit(monday.landed.res, '/pin', { pin: card.pin! }));
    assert.equal(signedInNow.res.status, 200);
    assert.match(signedInNow.res.text, /Allen Tan/);
    assert.deepEqual((await t.idp.sso.get(ssoOf(monday.b)))?.amr, ['badge', 'pin']);
  });

  it('five wrong PINs lock the login ID as five wrong passwords do; the right PIN is then refused until the form teacher unlocks', async () => {
    now = Date.parse('2027-01-11T02:30:00Z');
    const { teacher: daniel, cards: [card] } = await print(t, allen);
    assert.ok(card);
    const { b, landed } = await scan(t, card.secret);
    let pinPage = landed.res;
    const wrong = card.pin === '0000' ? '1111' : '0000';
    for (let i = 1; i <= 5; i++) {
      const after = await b.follow(await b.submit(pinPage, '/pin', { pin: wrong }));
      if (i < 5) {
        assert.equal(after.res.status, 401);
        assert.match(after.res.text, /That PIN is not right/);
        pinPage = after.res;
      } else {
        assert.match(after.res.text, /Your account has been locked/);
      }
    }
    assert.notEqual(await t.idp.lockout.lockedSince(DEMO.student.loginId), null);
    assert.ok((await t.idp.audit.recent(10, (e) => e.type === 'account.locked' && e.accountId === allen)).some((e) => e.reason === 'too many wrong badge PINs'));
    // The right PIN, on a new scan: still locked.
    const again = await scan(t, card.secret);
    assert.match(again.landed.res.text, /Your account has been locked/);
    // The form teacher unlocks; the right PIN signs in.
    const confirm = await daniel.get(`/admin/accounts/${allen}/unlock`);
    await daniel.follow(await daniel.submit(confirm, `/admin/accounts/${allen}/unlock`, {}));
    const after = await scan(t, card.secret);
    const done = await after.b.follow(await after.b.submit(after.landed.res, '/pin', { pin: card.pin! }));
    assert.equal(done.res.status, 200);
    assert.match(done.res.text, /Allen Tan/);
  });

  it('outside the school\'s networks a badge is refused', async () => {
    const outside = await startTestIdp({ clock, overrides: { badges: { levels: ['P2'], pinDigits: 0, hours: null, networks: ['10.0.0.0/8', '2001:db8::/32'] } } });
    try {
      const card = (await print(outside, await idOf(outside, DEMO.student.loginId))).cards[0]!;
      const { landed } = await scan(outside, card.secret);
      assert.equal(landed.res.status, 401);
      assert.match(landed.res.text, /Badges work only at school/);
    } finally {
      await outside.close();
    }
  });
});
