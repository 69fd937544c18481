import { text } from '../../src/messages/catalogue.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, projectRoot } from '../../src/config/settings.ts';
import { nameParts, parseCommonPasswords, PasswordPolicies, type PasswordHistoryCheck } from '../../src/domain/passwords/policy.ts';

const settings = loadSettings({ env: {} });
const common = parseCommonPasswords(readFileSync(path.join(projectRoot, 'config/common-passwords.txt'), 'utf8'));
const policies = new PasswordPolicies(settings.passwordPolicy.default, settings.passwordPolicy.populations, common);
const allen = { loginId: 'allen_tan@students.edu.sg', displayName: 'Allen Tan', givenName: 'Allen', familyName: 'Tan', roles: ['student' as const] };
const noHistory: PasswordHistoryCheck = { isCurrent: async () => false, inHistory: async () => false };

function codes(candidate: string, account: typeof allen = allen): string[] {
  return policies.for(account).checkShape(candidate, account).map((v) => v.code);
}

describe('password policy (defaults of the latest guides)', () => {
  it('accepts a password that meets every rule', () => {
    assert.deepEqual(codes('Sunflower-Kite-42'), []);
    assert.deepEqual(codes('Meadow7Violet9x'), []);
  });

  it('is case sensitive and needs 12 characters (counted as characters, not bytes)', () => {
    assert.deepEqual(codes('Sunflower-42'), []);
    assert.deepEqual(codes('Sunflower-4'), ['PWD_MIN_LENGTH']);
    assert.deepEqual(codes('Ünïcödé-Päß1'), [], '12 accented characters are 12 characters');
  });

  it('refuses more than 128 characters', () => {
    assert.deepEqual(codes('Ab1-' + 'x'.repeat(125)), ['PWD_MAX_LENGTH']);
    assert.deepEqual(codes('Ab1-' + 'x'.repeat(124)), []);
  });

  it('refuses a symbol as first character', () => {
    assert.deepEqual(codes('!Sunflower-Kite42'), ['PWD_FIRST_CHAR']);
    assert.deepEqual(codes(' Sunflower-Kite42'), ['PWD_FIRST_CHAR'], 'a space is a symbol');
    assert.deepEqual(codes('9Sunflower-Kite'), []);
  });

  it('needs three of uppercase, lowercase, number, symbol', () => {
    assert.deepEqual(codes('sunflowerkite'), ['PWD_CHAR_TYPES']);
    assert.deepEqual(codes('sunflowerkite42'), ['PWD_CHAR_TYPES']);
    assert.deepEqual(codes('sunflowerkite-42'), []);
    assert.deepEqual(codes('SUNFLOWERKITE-42'), []);
    assert.deepEqual(codes('Sunflowerkitebc'), ['PWD_CHAR_TYPES']);
    assert.deepEqual(codes('ÉCOLEécolexyz'), ['PWD_CHAR_TYPES'], 'Unicode letters count as upper and lower case');
    assert.deepEqual(codes('ÉCOLEécolexy7'), []);
  });

  it('refuses any part of the name or login ID of 3 or more characters, case-insensitively', () => {
    // As in Active Directory: the name is split at non-letters into parts; a part of 3 or
    // more characters may not appear anywhere in the password.
    assert.deepEqual(nameParts(allen, 3), ['allen', 'tan', 'allen_tan']);
    assert.deepEqual(codes('Gallery-Kite-42'), [], '"all" is not a whole part');
    assert.deepEqual(codes('Kite-aLLeN-2024'), ['PWD_NAME_PART']);
    assert.deepEqual(codes('Sultana-Kite-42'), ['PWD_NAME_PART'], '"tan" inside another word still counts');
  });

  it('name parts: parts of 3+ characters from name and login ID; short parts are ignored', () => {
    const ng = { loginId: 'bo_ng@students.edu.sg', displayName: 'Bo Ng', givenName: 'Bo', familyName: 'Ng', roles: ['student' as const] };
    assert.deepEqual(nameParts(ng, 3), ['bo_ng']);
    assert.deepEqual(codes('Bongo-Drum-4242', ng), [], '"bo" and "ng" are too short to count');
    assert.deepEqual(codes('Xbo_ng-Drum-42', ng), ['PWD_NAME_PART']);
    assert.deepEqual(codes('Harbour-TAN-4242'), ['PWD_NAME_PART']);
    assert.deepEqual(codes('xAllen-Harbour42'), ['PWD_NAME_PART']);
    const tamil = { loginId: 'kumar_s@students.edu.sg', displayName: 'Kumar Selvarajah', givenName: 'Kumar', familyName: 'Selvarajah', roles: ['student' as const] };
    assert.deepEqual(codes('Selvarajah-2024', tamil), ['PWD_NAME_PART']);
    const chinese = { loginId: 'li_wei@students.edu.sg', displayName: '李伟明', givenName: '伟明', familyName: '李', roles: ['student' as const] };
    assert.deepEqual(codes('Kite-李伟明-2024x', chinese), ['PWD_NAME_PART'], 'a Unicode name of 3 characters counts');
  });

  it('refuses common passwords, also with digits and symbols around them', () => {
    assert.deepEqual(codes('Password1234!'), ['PWD_COMMON']);
    assert.deepEqual(codes('Welcome@2026'), ['PWD_COMMON']);
    assert.deepEqual(codes('12Basketball!'), ['PWD_COMMON']);
    assert.deepEqual(codes('Basketball-Kite1'), []);
  });

  it('refuses the current password and the last 5, accepts the 6th', async () => {
    const history = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
    const check: PasswordHistoryCheck = {
      isCurrent: async (c) => c === 'Current-Pass-11',
      inHistory: async (c, depth) => history.slice(0, depth).includes(`h${c.slice(-1)}`),
    };
    const policy = policies.for(allen);
    assert.deepEqual((await policy.check('Current-Pass-11', allen, check)).map((v) => v.code), ['PWD_SAME_AS_CURRENT']);
    assert.deepEqual((await policy.check('Earlier-Pass-x5', allen, check)).map((v) => v.code), ['PWD_HISTORY']);
    assert.deepEqual((await policy.check('Earlier-Pass-x6', allen, check)).map((v) => v.code), []);
    assert.deepEqual((await policy.check('short', allen, check)).map((v) => v.code), ['PWD_MIN_LENGTH', 'PWD_CHAR_TYPES']);
    assert.deepEqual(await policy.check('Brand-New-Pass-9', allen, noHistory), []);
  });

  it('lists the requirements in the words of the guides', () => {
    // The words come from the message catalogue, as the Change Password page shows them.
    const texts = policies.for(allen).requirements().map((r) => text(r.message));
    assert.ok(texts.includes('Password is case sensitive.'));
    assert.ok(texts.includes('Must be at least 12 characters long.'));
    assert.ok(texts.includes('The first character can not be a symbol (non letter or number).'));
    assert.ok(texts.includes('Must not include part of your name or user name.'));
    assert.ok(texts.some((t) => t.startsWith('Must have at least three types of the following characters')));
  });

  it('chooses the rules per population, by login ID domain or role', () => {
    const staffPolicies = new PasswordPolicies(settings.passwordPolicy.default, [
      { name: 'students', loginIdDomains: ['students.edu.sg'], roles: [], rules: { minLength: 10 } },
      { name: 'HQ staff', loginIdDomains: ['hq.moe.gov.sg'], roles: ['ministry-admin'], rules: { minLength: 16, historyLength: 10 } },
    ], common);
    assert.equal(staffPolicies.for(allen).population, 'students');
    assert.equal(staffPolicies.for(allen).rules.minLength, 10);
    const hq = staffPolicies.for({ loginId: 'x@hq.moe.gov.sg', roles: ['staff'] });
    assert.equal(hq.population, 'HQ staff');
    assert.equal(hq.rules.minLength, 16);
    assert.equal(staffPolicies.for({ loginId: 'y@other.sg', roles: ['ministry-admin'] }).population, 'HQ staff');
    assert.equal(staffPolicies.for({ loginId: 'z@other.sg', roles: ['staff'] }).population, 'default');
  });
});
