// Issue 15, item 10: readable temporary passwords, configurable per population. The
// "words" format is capitalised short words joined by digits (no look-alike characters);
// its entropy is computed from the size of the shipped word list and the number of words
// and digits an actual password has.
import assert from 'node:assert/strict';
import { loadSettings } from '../../src/config/settings.ts';
import { LOOK_ALIKES, MIN_WORDS_TEMPORARY_BITS, temporaryPassword, wordsShape } from '../../src/domain/passwords/generate.ts';
import { PasswordPolicies } from '../../src/domain/passwords/policy.ts';
import { temporaryPasswordWords } from '../../src/services.ts';

const settings = loadSettings({ env: {} });
const words = temporaryPasswordWords();
const policies = new PasswordPolicies(settings.passwordPolicy.default, settings.passwordPolicy.populations, new Set(['password123']), {
  formats: settings.passwordPolicy.temporaryPasswords,
  words,
});
const student = { loginId: 'allen_tan@students.edu.sg', displayName: 'Allen Tan', givenName: 'Allen', familyName: 'Tan', roles: ['student' as const] };
const staff = { loginId: 'daniel_wong@schools.gov.sg', displayName: 'Daniel Wong', givenName: 'Daniel', familyName: 'Wong', roles: ['staff' as const] };
const WORDS_FORMAT = /^[A-HJ-NP-Z][a-km-z]+(?:[2-9][A-HJ-NP-Z][a-km-z]+)+$/;

describe('temporary passwords (issue 15, item 10)', () => {
  it('the shipped configuration: words for students, random for everyone else', () => {
    assert.deepEqual(settings.passwordPolicy.temporaryPasswords, { default: 'random', students: 'words' });
    assert.equal(policies.for(student).temporary.format, 'words');
    assert.equal(policies.for(staff).temporary.format, 'random');
  });

  it('words format: at least 45 bits (it lives 14 days and signs in once, throttled), computed from the word list size and the words and digits of a real password', () => {
    const password = temporaryPassword(policies.for(student), student);
    const parts = password.split(/[2-9]/);
    const digits = password.replace(/[^2-9]/g, '').length;
    // Each word is drawn uniformly from the list, each digit from 2-9 (8 digits).
    const bits = parts.length * Math.log2(words.length) + digits * Math.log2(8);
    assert.ok(bits >= MIN_WORDS_TEMPORARY_BITS, `${bits.toFixed(1)} bits from ${parts.length} words of ${words.length} and ${digits} digits`);
    assert.equal(parts.length, wordsShape(words.length).words);
    for (const part of parts) assert.ok(words.includes(part.toLowerCase()), `"${part}" is a word of the list`);
    // Something a Primary 1 child copies from a slip: 4 words of at most 5 letters, at most 23 characters.
    assert.equal(parts.length, 4, `${parts.length} words`);
    assert.ok(password.length <= 23, password);
    assert.ok(words.every((w) => w.length >= 3 && w.length <= 5));
    assert.equal(new Set(words).size, words.length, 'no repeated words (they would not add entropy)');
  });

  it('1,000 words-format passwords all pass the student policy and have no look-alike characters', () => {
    const policy = policies.for(student);
    for (let i = 0; i < 1000; i++) {
      const password = temporaryPassword(policy, student);
      assert.match(password, WORDS_FORMAT);
      assert.doesNotMatch(password, LOOK_ALIKES, password);
      assert.deepEqual(policy.checkShape(password, student), [], password);
    }
  });

  it('random format (staff) is unchanged: 14+ characters with a symbol, no look-alikes, passes the policy', () => {
    const policy = policies.for(staff);
    for (let i = 0; i < 200; i++) {
      const password = temporaryPassword(policy, staff);
      assert.ok(password.length >= 14);
      assert.match(password, /[#%+=!-]/);
      assert.doesNotMatch(password, LOOK_ALIKES);
      assert.deepEqual(policy.checkShape(password, staff), []);
    }
  });

  it('a policy that wants all four character types still gets words it accepts', () => {
    const strict = new PasswordPolicies({ ...settings.passwordPolicy.default, minCharTypes: 4 }, settings.passwordPolicy.populations, new Set(), { formats: { default: 'words' }, words });
    const password = temporaryPassword(strict.for(student), student);
    assert.deepEqual(strict.for(student).checkShape(password, student), []);
  });

  it('the setting is validated: formats are "words" or "random", keys are "default" or a population', () => {
    assert.equal(loadSettings({ env: {}, overrides: { passwordPolicy: { temporaryPasswords: { default: 'words' } } } }).passwordPolicy.temporaryPasswords.default, 'words');
    assert.throws(() => loadSettings({ env: {}, overrides: { passwordPolicy: { temporaryPasswords: { students: 'pictures' } } } }), /temporaryPasswords/);
    assert.throws(() => loadSettings({ env: {}, overrides: { passwordPolicy: { temporaryPasswords: { pupils: 'words' } } } }), /temporaryPasswords.*population/s);
  });
});
