// The guides' journeys in 简体中文, Bahasa Melayu and தமிழ் (issue 15) in Chromium at 360 px:
// first sign-in (questions, then a new password), forgot password, and unlock after a
// lockout. The browser asks for the language (Accept-Language from its locale); every label
// the test reads or clicks comes from that language's catalogue, so an English word left on
// a screen makes it fail. Screenshots go to test-output/journeys/lang-<lang>-*/ and every
// screen must pass axe without horizontal scrolling.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { CATALOGUES, text, type Language, type MessageId, type MessageParams } from '../../src/messages/catalogue.ts';
import { QUESTION_IDS } from '../../src/messages/questions.ts';
import { SIM_MESSAGES, type SimMessageId } from '../../src/sims/messages.ts';
import { fontsDrawing, Journey, launchChromium } from '../support/chromium.ts';
import { startWorld, type World } from '../support/world.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const BELLA = { loginId: 'bella_lim@students.edu.sg', answers: { 'What is your favourite colour?': 'yellow', 'What is your favourite animal?': 'hamster', 'What is your favourite book?': 'The Good Earth' } as Record<string, string> };
const CHANDRA = { loginId: 'chandra_kumar@students.edu.sg', password: 'Meadow-Violet-93', answers: { 'What is your favourite sport or hobby?': 'Badminton', 'What is your favourite movie?': 'Spirited Away', 'What is your favourite toy?': 'Spinning top' } as Record<string, string> };

const ALLEN = { loginId: 'allen_tan@students.edu.sg', password: 'Sunflower-Kite-42' };
const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };

const LOCALES: Array<[Exclude<Language, 'en'>, string]> = [['zh', 'zh-SG'], ['ms', 'ms-SG'], ['ta', 'ta-SG']];

for (const [lang, locale] of LOCALES) {
  const t = (id: MessageId, params?: MessageParams) => text(params ? { id, params } : id, lang);
  /** The simulated apps' words (they follow the browser's language too). */
  const ts = (id: SimMessageId) => SIM_MESSAGES[lang][id];
  /** The English question shown under this label (questions are stored in English). */
  const englishOf = (label: string) => Object.keys(QUESTION_IDS).find((q) => t(QUESTION_IDS[q]!) === label.trim());

  async function click(page: Page, id: MessageId): Promise<void> {
    await page.getByRole('button', { name: t(id), exact: true }).click();
  }

  async function signIn(j: Journey, loginId: string, password: string, label = 'sign-in'): Promise<void> {
    await j.screen(label, t('signin.heading'));
    await j.page.getByLabel(t('field.username'), { exact: true }).fill(loginId);
    await j.page.getByLabel(t('field.password'), { exact: true }).fill(password);
    await click(j.page, 'button.sign_in');
  }

  async function answer(page: Page, answers: Record<string, string>): Promise<void> {
    const labels = await page.locator('form label').allInnerTexts();
    for (const [i, label] of labels.entries()) {
      const english = englishOf(label);
      assert.ok(english, `"${label}" is a question of the ${lang} catalogue`);
      await page.locator(`#a${i}`).fill(answers[english] ?? 'wrong answer');
    }
  }

  async function changePassword(j: Journey, newPassword: string): Promise<void> {
    await j.screen('change-password', t('change.heading'));
    const field = j.page.getByLabel(t('change.new'), { exact: true });
    await field.pressSequentially('!ab');
    assert.ok((await j.page.locator('#requirements li.unmet').count()) >= 2);
    // The marks are text too (item 7): each marked requirement says met or not met.
    assert.match(await j.page.locator('#requirements li.unmet').first().innerText(), new RegExp(`\\(${t('change.unmet')}\\)$`));
    await field.fill('');
    await field.pressSequentially(newPassword);
    await j.page.getByLabel(t('change.confirm'), { exact: true }).fill(newPassword);
    assert.equal(await j.page.locator('#requirements li.unmet').count(), 0);
    await j.screen('change-password-filled', t('change.heading'));
    await click(j.page, 'change.button');
    await j.screen('password-changed', t('change.done_heading'));
    assert.match(await j.page.locator('main').innerText(), new RegExp(t('change.done')));
  }

  describe(`browser journeys in ${lang} (Chromium, 360 px, axe)`, function () {
    this.timeout(180_000);
    let browser: Browser;
    let world: World;

    before(async () => {
      browser = await launchChromium();
      world = await startWorld({ host: 'localhost' });
    });
    after(async () => {
      await world?.close();
      await browser?.close();
    });

    it(`first sign-in: questions and a new password, entirely in ${lang}`, async () => {
      const j = await Journey.start(browser, `lang-${lang}-1-first-sign-in`, locale);
      const p = j.page;
      await p.goto(`${world.ws.url}/`);
      await j.screen('student-icon', ts('ws.sign_in'));
      await p.getByLabel(ts('ws.email')).fill(FARAH.loginId);
      await p.getByRole('button', { name: ts('ws.next'), exact: true }).click();
      await j.screen('sign-in', t('signin.heading'));
      assert.equal(await p.locator('html').getAttribute('lang'), { zh: 'zh-Hans-SG', ms: 'ms-SG', ta: 'ta-SG' }[lang]);
      await signIn(j, FARAH.loginId, FARAH.password, 'sign-in-filled');
      await j.screen('setup-security-questions', t('questions.heading'));
      assert.match(await p.locator('footer').innerText(), new RegExp(t('layout.idle', { minutes: 4 })));
      assert.equal(await p.title(), t('layout.title', { screen: t('screen.setup-questions') }));
      const picks: Array<[MessageId, string]> = [['question.food', 'Ramen'], ['question.animal', '鲨鱼 ikan yu சுறா'], ['question.colour', 'Turquoise']];
      for (const [i, [question, reply]] of picks.entries()) {
        await p.locator(`#q${i}`).selectOption({ label: t(question) });
        await p.locator(`#a${i}`).fill(reply);
      }
      await click(p, 'questions.save');
      await j.screen('confirm-security-questions', t('questions.confirm_heading'));
      assert.match(await p.locator('dl.confirm').innerText(), new RegExp(t('question.food').replace(/[?？]/g, '.')));
      await click(p, 'questions.confirm');
      await j.screen('questions-saved', t('questions.saved_heading'));
      await click(p, 'button.continue');
      await changePassword(j, 'Orchard-Lamp-2077');
      await click(p, 'button.continue');
      // The signed SAML response is posted to the app, which speaks the same language.
      await j.screen('welcome-to-your-new-account', ts('ws.welcome'));
      await p.getByRole('button', { name: ts('ws.understand'), exact: true }).click();
      await j.screen('workspace-dashboard', 'Farah Aziz');
      assert.match(await p.locator('main').innerText(), new RegExp(ts('ws.your_apps')));
      // No boxes: the sign-out button and the details' summary are drawn with a font that has the script.
      for (const selector of ['header button', 'summary']) {
        const fonts = await fontsDrawing(p, selector);
        if (lang === 'ta') assert.ok(fonts.some((f) => /Tamil/.test(f)), `${selector}: drawn with ${fonts.join(', ')}`);
        if (lang === 'zh') assert.ok(fonts.some((f) => /CJK|Hei|Ming|Song|Kai|Hans/i.test(f)), `${selector}: drawn with ${fonts.join(', ')}`);
      }
      await j.close();
    });

    it(`forgot password: the questions in ${lang}, answers compared as typed in any case`, async () => {
      const j = await Journey.start(browser, `lang-${lang}-2-forgot-password`, locale);
      const p = j.page;
      await p.goto(`${world.slsUrl}/`);
      await j.screen('sls', ts('sls.welcome'));
      // SLS asks the IdP for its own language (OIDC ui_locales).
      await p.getByRole('link', { name: ts('sls.sign_in') }).click();
      await j.screen('sign-in', t('signin.heading'));
      assert.equal((await p.locator('#app-asking').innerText()).trim(), t('signin.app_asks', { app: 'Student Learning Space – SLS' }), 'which app is asking (item 12)');
      await p.getByRole('link', { name: t('signin.forgot_link') }).click();
      await j.screen('forgotten-password', t('forgot.heading'));
      await p.getByLabel(t('field.username'), { exact: true }).fill(BELLA.loginId);
      await click(p, 'forgot.search');
      await j.screen('challenge-questions', t('forgot.heading'));
      await answer(p, {});
      await click(p, 'forgot.check_answers');
      await j.screen('answers-not-correct', t('forgot.heading'));
      assert.equal((await p.getByRole('alert').innerText()).trim(), t('forgot.wrong_answers'));
      await answer(p, Object.fromEntries(Object.entries(BELLA.answers).map(([q, a]) => [q, a.toUpperCase()])));
      await click(p, 'forgot.check_answers');
      await changePassword(j, 'Pinewood-Kettle-58');
      await click(p, 'button.continue');
      await signIn(j, BELLA.loginId, 'Pinewood-Kettle-58', 'sign-in-with-new-password');
      await j.screen('sls-assignments', 'Bella Lim');
      assert.match(await p.locator('main').innerText(), new RegExp(ts('sls.assignments')));
      await j.close();
    });

    it(`a locked account is unlocked with the questions, in ${lang}`, async () => {
      const j = await Journey.start(browser, `lang-${lang}-3-lockout-unlock`, locale);
      const p = j.page;
      await p.goto(`${world.t.url}/portal`);
      for (let i = 1; i <= 5; i++) await signIn(j, CHANDRA.loginId, `Wrong-Guess-${i}0`, `wrong-password-${i}`);
      await signIn(j, CHANDRA.loginId, CHANDRA.password, 'right-password-while-locked');
      await j.screen('locked', t('signin.heading'));
      assert.equal((await p.getByRole('alert').innerText()).trim(), t('signin.locked'));
      await p.getByRole('link', { name: t('signin.forgot_link') }).click();
      await j.screen('forgotten-password', t('forgot.heading'));
      await p.getByLabel(t('field.username'), { exact: true }).fill(CHANDRA.loginId);
      await click(p, 'forgot.search');
      await j.screen('challenge-questions', t('forgot.heading'));
      await answer(p, CHANDRA.answers);
      await click(p, 'forgot.check_answers');
      await j.screen('account-locked-choices', t('forgot.heading'));
      await click(p, 'forgot.unlock');
      await j.screen('unlocked', t('forgot.unlocked_heading'));
      await click(p, 'button.continue');
      await signIn(j, CHANDRA.loginId, CHANDRA.password, 'sign-in-with-old-password');
      await j.screen('applications', t('portal.heading'));
      await j.close();
    });

    it(`the SSPR app (password asked once) and signing out everywhere, in ${lang}`, async () => {
      const j = await Journey.start(browser, `lang-${lang}-4-sspr-sign-out`, locale);
      const p = j.page;
      await p.goto(`${world.slsUrl}/login`);
      await signIn(j, ALLEN.loginId, ALLEN.password);
      await j.screen('sls', 'Allen Tan');
      await p.goto(`${world.t.url}/portal`);
      await j.screen('applications', t('portal.heading'));
      assert.match(await p.locator('[data-app="sspr"]').innerText(), new RegExp(t('app.sspr.description')));
      await p.locator('[data-app="sspr"]').click();
      await j.screen('sspr', t('sspr.heading'));
      await p.getByRole('button', { name: new RegExp(`^${t('change.heading')}`) }).click();
      await j.screen('current-password', t('reauth.heading'));
      await p.getByLabel(t('field.password'), { exact: true }).fill('not-my-password');
      await click(p, 'button.continue');
      await j.screen('wrong-password', t('reauth.heading'));
      assert.equal((await p.getByRole('alert').innerText()).trim(), t('reauth.failed'));
      await p.getByLabel(t('field.password'), { exact: true }).fill(ALLEN.password);
      await click(p, 'button.continue');
      await changePassword(j, 'Lantern-Harbour-66');
      await click(p, 'button.continue');
      await j.screen('sspr-again', t('sspr.heading'));
      // Moments later, the other task: no second password prompt (item 9).
      await p.getByRole('button', { name: new RegExp(`^${t('questions.heading')}`) }).click();
      await j.screen('setup-security-questions', t('questions.heading'));
      await p.goto(`${world.t.url}/portal`);
      await p.getByRole('button', { name: t('button.sign_out'), exact: true }).click();
      await j.screen('signed-out', t('signout.heading'));
      assert.match(await p.locator('main').innerText(), new RegExp(t('signout.also', { apps: 'Student Learning Space' }).split('Student Learning Space')[0]! + 'Student Learning Space'));
      await j.close();
    });

    it(`an administrator resets a password, in ${lang}`, async () => {
      const j = await Journey.start(browser, `lang-${lang}-5-admin-reset`, locale);
      const p = j.page;
      await p.goto(`${world.t.url}/admin`);
      await signIn(j, SITI.loginId, SITI.password);
      await j.screen('school-administration', t('admin.search_heading'));
      await p.getByLabel(t('admin.find_label'), { exact: true }).fill('bella');
      await click(p, 'admin.search');
      await j.screen('search-results', t('admin.search_heading'));
      await p.getByRole('link', { name: BELLA.loginId }).click();
      await j.screen('account', 'Bella Lim');
      assert.match(await p.locator('dl.facts').innerText(), /SGT/);
      await p.getByRole('link', { name: t('admin.action.reset-password') }).click();
      await j.screen('confirm-reset', t('admin.action.reset-password'));
      await click(p, 'admin.confirm');
      await j.screen('temporary-password', t('admin.reset_heading'));
      assert.ok((await p.locator('#temporary-password').innerText()).trim().length >= 12);
      await p.getByRole('link', { name: t('admin.reset_finish') }).click();
      await j.screen('account-after-reset', 'Bella Lim');
      assert.match(await p.locator('table.events').innerText(), new RegExp(t('event.admin.password.reset')));
      await j.close();
    });
  });
}

// Every language has every id (the parity test says which); here only that the journeys'
// words exist, so a failure above is about the screens.
describe('journey words', () => {
  it('exist in every language', () => {
    for (const [lang] of LOCALES) for (const id of ['signin.heading', 'forgot.unlock', 'change.button'] as const) assert.ok(CATALOGUES[lang][id]);
  });
});
