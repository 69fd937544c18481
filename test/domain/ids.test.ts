import assert from 'node:assert/strict';
import { newId } from '../../src/domain/ids.ts';

describe('newId: unguessable ids from a pool of CSPRNG bytes', () => {
  it('gives ids of the asked size that never repeat, across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i++) seen.add(newId()); // 800,000 bytes: the 4 KiB pool refilled about 200 times
    assert.equal(seen.size, 50_000);
    for (const id of seen) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(newId(32), 'base64url').length, 32);
    assert.equal(Buffer.from(newId(9), 'base64url').length, 9);
  });

  it('gives ids longer than the pool from the CSPRNG directly', () => {
    const a = newId(10_000);
    const b = newId(10_000);
    assert.equal(Buffer.from(a, 'base64url').length, 10_000);
    assert.notEqual(a, b);
  });

  it('draws bytes without bias: each bit is set about half the time', () => {
    const ones = new Array<number>(128).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const bytes = Buffer.from(newId(16), 'base64url');
      for (let bit = 0; bit < 128; bit++) if (bytes[bit >> 3]! & (1 << (bit & 7))) ones[bit]!++;
    }
    // 6 standard deviations of a fair coin over n draws: fails by chance about once in 10^9 runs.
    const sd = Math.sqrt(n) / 2;
    for (const count of ones) assert.ok(Math.abs(count - n / 2) < 6 * sd, `a bit set ${count} times of ${n}`);
  });
});
