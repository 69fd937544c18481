// The catalogues: one key set in every language, every entry a valid ICU message using the
// same parameters as English, and the glossary's terms used consistently.
import assert from 'node:assert/strict';
import { IntlMessageFormat } from 'intl-messageformat';
import { CATALOGUES, LANGUAGES, text } from '../../src/messages/catalogue.ts';
import { en } from '../../src/messages/en.ts';
import { QUESTION_IDS } from '../../src/messages/questions.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { SIM_MESSAGES } from '../../src/sims/messages.ts';

/** The parameter names a message uses (plural/select selectors included). */
function paramsOf(source: string): string[] {
  const names = new Set<string>();
  type Element = ReturnType<IntlMessageFormat['getAst']>[number];
  // ICU element types: 0 literal, 1 argument, 2 number, 3 date, 4 time, 5 select, 6 plural, 7 pound.
  const walk = (elements: Element[]) => {
    for (const e of elements) {
      if (e.type >= 1 && e.type <= 6) names.add((e as { value: string }).value);
      if ('options' in e) for (const option of Object.values(e.options as Record<string, { value: Element[] }>)) walk(option.value);
    }
  };
  walk(new IntlMessageFormat(source, 'en', undefined, { ignoreTag: true }).getAst());
  return [...names].sort();
}

describe('message catalogues', () => {
  const english = Object.keys(en).sort();

  for (const lang of LANGUAGES) {
    it(`${lang}: exactly the English ids (no missing, no extra)`, () => {
      const ids = Object.keys(CATALOGUES[lang]).sort();
      assert.deepEqual(english.filter((id) => !ids.includes(id)), [], `${lang} lacks these ids`);
      assert.deepEqual(ids.filter((id) => !english.includes(id)), [], `${lang} has ids English does not`);
    });

    it(`${lang}: every entry is an ICU message with the English parameters`, () => {
      for (const [id, source] of Object.entries(CATALOGUES[lang])) {
        assert.equal(typeof source, 'string', `${lang} ${id}: a string (ICU), not a function`);
        assert.deepEqual(paramsOf(source!), paramsOf((en as Record<string, string>)[id]!), `${lang} ${id}: parameters`);
      }
    });
  }

  it('the simulated apps\' words: one key set in every language, the same placeholders', () => {
    const keys = Object.keys(SIM_MESSAGES.en).sort();
    for (const [lang, words] of Object.entries(SIM_MESSAGES)) {
      assert.deepEqual(Object.keys(words).sort(), keys, lang);
      for (const [id, s] of Object.entries(words)) assert.deepEqual(s.match(/\{\w+\}/g) ?? [], (SIM_MESSAGES.en as Record<string, string>)[id]!.match(/\{\w+\}/g) ?? [], `${lang} ${id}`);
    }
  });

  it('English stays the guides\' words, with plurals and number words from ICU', () => {
    assert.equal(text({ id: 'password.requirement.PWD_MIN_LENGTH', params: { min: 12 } }), 'Must be at least 12 characters long.');
    assert.equal(text({ id: 'password.requirement.PWD_CHAR_TYPES', params: { count: 3 } }).startsWith('Must have at least three types'), true);
    assert.equal(text({ id: 'layout.idle', params: { minutes: 4 } }), 'Idle Timeout: 4 minutes');
    assert.equal(text({ id: 'layout.idle', params: { minutes: 1 } }), 'Idle Timeout: 1 minute');
    assert.equal(text({ id: 'password.requirement.PWD_CHAR_TYPES', params: { count: 3 } }, 'ms').includes('tiga jenis'), true);
    assert.equal(text({ id: 'layout.idle', params: { minutes: 1 } }, 'ta'), 'செயலற்ற நேர வரம்பு: 1 நிமிடம்');
    assert.equal(text({ id: 'layout.idle', params: { minutes: 4 } }, 'ta'), 'செயலற்ற நேர வரம்பு: 4 நிமிடங்கள்');
    assert.equal(text({ id: 'layout.idle', params: { minutes: 4 } }, 'zh'), '闲置时限：4 分钟');
  });

  it('every configured challenge question has an id, so it is shown in every language', () => {
    for (const question of loadSettings({ env: {} }).challenge.catalogue) {
      const id = QUESTION_IDS[question];
      assert.ok(id, `no message id for "${question}"`);
      assert.equal(text(id), question, 'the English words are the stored words');
    }
  });

  it('uses the glossary\'s terms (GLOSSARY.md) for password and security question', () => {
    const terms: Record<string, { password: string; question: string }> = {
      zh: { password: '密码', question: '安全问题' },
      ms: { password: 'kata laluan', question: 'soalan keselamatan' },
      ta: { password: 'கடவுச்சொல்', question: 'பாதுகாப்புக் கேள்வி' },
    };
    for (const [lang, term] of Object.entries(terms)) {
      const c = CATALOGUES[lang as keyof typeof CATALOGUES] as Record<string, string>;
      for (const id of ['change.intro', 'signin.failed', 'reauth.missing_password']) assert.ok(c[id]!.toLowerCase().includes(term.password), `${lang} ${id} says ${term.password}`);
      for (const id of ['questions.intro1', 'sspr.questions_none']) assert.ok(c[id]!.toLowerCase().includes(term.question), `${lang} ${id} says ${term.question}`);
    }
  });
});
