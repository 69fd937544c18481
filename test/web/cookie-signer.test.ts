// Cookie signatures: the same as Keygrip's (what koa and oidc-provider used before, so
// cookies issued before an upgrade stay valid), any key verifies, the first one signs.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CookieSigner } from '../../src/http/cookie-signer.ts';

// Keygrip (the `cookies` package's default signer) as the reference.
const Keygrip = createRequire(import.meta.url)('keygrip') as new (keys: string[]) => { sign(d: string): string; index(d: string, s: string): number };

describe('cookie signatures', () => {
  const keys = ['current-key-0123456789', 'next-key-0123456789', 'retiring-key-0123456789'];

  it('signs as Keygrip does and finds the same key for every signature Keygrip makes', () => {
    const ours = new CookieSigner(keys);
    for (const data of ['idp_sso=abc', '_session=Xy-_z09', 'idp_browser=' + 'q'.repeat(43), 'ü=é']) {
      assert.equal(ours.sign(data), new Keygrip(keys).sign(data));
      for (let i = 0; i < keys.length; i++) {
        const signature = new Keygrip([keys[i]!]).sign(data);
        assert.equal(ours.index(data, signature), i);
        assert.equal(ours.verify(data, signature), true);
      }
    }
  });

  it('refuses signatures made with another key, altered, truncated, or not strings', () => {
    const ours = new CookieSigner(keys);
    const good = ours.sign('idp_sso=abc');
    assert.equal(ours.index('idp_sso=abc', new Keygrip(['someone-else']).sign('idp_sso=abc')), -1);
    assert.equal(ours.index('idp_sso=abd', good), -1);
    assert.equal(ours.index('idp_sso=abc', good.slice(0, -1)), -1);
    assert.equal(ours.index('idp_sso=abc', `${good}=`), -1);
    assert.equal(ours.index('idp_sso=abc', undefined as unknown as string), -1);
    assert.throws(() => new CookieSigner([]));
  });
});
