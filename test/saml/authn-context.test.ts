// RequestedAuthnContext decisions (SAML core 3.3.2.2.1), case by case: what a request needs
// of the session, and which class the assertion then names — only what is true of it.
import assert from 'node:assert/strict';
import { AC_PASSWORD, AC_REFEDS_MFA, AC_SCHOOL_MFA, AC_UNSPECIFIED, classRefFor, neededStrength, type Comparison } from '../../src/protocols/saml/authn-context.ts';
import { AUTHN_PASSWORD_PROTECTED as PPT } from '../../src/protocols/saml/constants.ts';

const rac = (comparison: Comparison, ...classes: string[]) => ({ comparison, classes });
const PWD = { mfa: false, password: true };
const PWD_MFA = { mfa: true, password: true };
const PASSKEY = { mfa: true, password: false };

describe('SAML RequestedAuthnContext', () => {
  it('says what each request needs', () => {
    assert.equal(neededStrength(undefined), 'none');
    assert.equal(neededStrength(rac('exact', PPT)), 'none');
    assert.equal(neededStrength(rac('exact', AC_REFEDS_MFA)), 'mfa');
    assert.equal(neededStrength(rac('exact', AC_REFEDS_MFA, PPT)), 'none', 'either will do');
    assert.equal(neededStrength(rac('exact', 'urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard')), 'impossible');
    assert.equal(neededStrength(rac('minimum', PPT)), 'none');
    assert.equal(neededStrength(rac('minimum', AC_SCHOOL_MFA)), 'mfa');
    assert.equal(neededStrength(rac('better', PPT)), 'mfa');
    assert.equal(neededStrength(rac('better', AC_UNSPECIFIED)), 'none', 'a password is better than unspecified');
    assert.equal(neededStrength(rac('better', AC_REFEDS_MFA)), 'impossible');
    assert.equal(neededStrength(rac('maximum', PPT)), 'none');
  });

  it('names only what is true of the session', () => {
    assert.equal(classRefFor(undefined, PWD), PPT);
    assert.equal(classRefFor(undefined, PWD_MFA), AC_REFEDS_MFA);
    assert.equal(classRefFor(rac('exact', PPT), PWD), PPT);
    assert.equal(classRefFor(rac('exact', AC_PASSWORD), PWD), AC_PASSWORD, 'the class the SP named');
    assert.equal(classRefFor(rac('exact', PPT), PWD_MFA), PPT, 'a password was used, over TLS');
    assert.equal(classRefFor(rac('exact', PPT), PASSKEY), AC_REFEDS_MFA, 'no password was used: not PasswordProtectedTransport');
    assert.equal(classRefFor(rac('maximum', AC_PASSWORD), PASSKEY), AC_REFEDS_MFA);
    assert.equal(classRefFor(rac('exact', AC_SCHOOL_MFA), PWD_MFA), AC_SCHOOL_MFA);
    assert.equal(classRefFor(rac('minimum', PPT), PWD_MFA), AC_REFEDS_MFA, 'minimum: what happened');
    assert.equal(classRefFor(rac('better', AC_UNSPECIFIED), PWD), PPT);
    assert.equal(classRefFor(rac('maximum', AC_UNSPECIFIED), PWD), AC_UNSPECIFIED);
  });
});
