import assert from 'node:assert/strict';
import { loadSettings } from '../../src/config/settings.ts';
import { normaliseAnswer } from '../../src/domain/accounts/answers.ts';
import { checkAnswers, type ProposedAnswer } from '../../src/domain/accounts/challenge.ts';

const settings = loadSettings({ env: {} }).challenge;
const never = async () => false;

async function codes(rows: ProposedAnswer[], matchesPassword: (a: string) => Promise<boolean> = never) {
  return (await checkAnswers(rows, settings, matchesPassword)).map((v) => `${v.index}:${v.code}`);
}

const good: ProposedAnswer[] = [
  { question: '3', answer: 'Ramen' },
  { question: '0', answer: 'Shark' },
  { question: '1', answer: 'Turquoise' },
];

describe('challenge questions and answer rules', () => {
  it('ships the 8 questions of the guides and asks for 3', () => {
    assert.equal(settings.catalogue.length, 8);
    assert.equal(settings.catalogue[0], 'What is your favourite animal?');
    assert.equal(settings.catalogue[7], 'What is your favourite book?');
    assert.equal(settings.setupCount, 3);
  });

  it('normalises answers: trim, case-fold, collapse inner spaces', () => {
    assert.equal(normaliseAnswer('  The   Good\tEarth '), 'the good earth');
    assert.equal(normaliseAnswer('ÉCLAIR'), 'éclair');
    assert.equal(normaliseAnswer('ｒａｍｅｎ'), 'ramen', 'full-width letters fold to ASCII');
  });

  it('accepts three different questions with good answers', async () => {
    assert.deepEqual(await codes(good), []);
  });

  it('needs three different questions from the catalogue', async () => {
    assert.deepEqual(await codes([{ question: '', answer: 'Ramen' }, good[1]!, good[2]!]), ['0:QST_REQUIRED']);
    assert.deepEqual(await codes([{ question: '9', answer: 'Ramen' }, good[1]!, good[2]!]), ['0:QST_UNKNOWN']);
    assert.deepEqual(await codes([{ question: '-1', answer: 'Ramen' }, good[1]!, good[2]!]), ['0:QST_UNKNOWN']);
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '3', answer: 'Sushi' }]), ['2:QST_DUPLICATE']);
    assert.deepEqual(await codes([good[0]!, good[1]!]), ['2:QST_REQUIRED', '2:ANS_REQUIRED']);
  });

  it('needs answers of 2 to 100 characters after normalisation', async () => {
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: '   ' }]), ['2:ANS_REQUIRED']);
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: ' r ' }]), ['2:ANS_LENGTH']);
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: 're' }]), []);
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: 'r'.repeat(101) }]), ['2:ANS_LENGTH']);
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: `a${' '.repeat(200)}b` }]), [], 'inner spaces collapse before counting');
  });

  it('refuses two answers that are the same after normalisation', async () => {
    assert.deepEqual(await codes([good[0]!, { question: '0', answer: '  RAMEN ' }, good[2]!]), ['1:ANS_DUPLICATE']);
  });

  it("refuses an answer containing the question's own words", async () => {
    assert.deepEqual(await codes([good[0]!, { question: '0', answer: 'my favourite is a shark' }, good[2]!]), ['1:ANS_QUESTION_WORDS']);
    assert.deepEqual(await codes([good[0]!, { question: '0', answer: 'Animal' }, good[2]!]), ['1:ANS_QUESTION_WORDS']);
    assert.deepEqual(await codes([good[0]!, { question: '0', answer: 'is a shark' }, good[2]!]), [], 'words under 3 letters do not count');
  });

  it('refuses an answer that is the password', async () => {
    const isPassword = async (a: string) => a === 'Sunflower-Kite-42';
    assert.deepEqual(await codes([good[0]!, good[1]!, { question: '1', answer: ' Sunflower-Kite-42 ' }], isPassword), ['2:ANS_PASSWORD']);
  });
});
