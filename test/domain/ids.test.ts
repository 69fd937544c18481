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

  it('never hands a byte out twice, whatever the sizes asked (ids that cross the end of the pool included)', () => {
    // Mixed sizes, so that ids end anywhere in the pool; any 8 bytes handed out again would
    // show as a repeated 8-byte window (by chance: about 1 in 10^11 here).
    const sizes = [9, 12, 16, 24, 32, 5, 7];
    const windows = new Set<string>();
    let count = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(newId(sizes[i % sizes.length]!), 'base64url');
      for (let at = 0; at + 8 <= bytes.length; at++) {
        windows.add(bytes.subarray(at, at + 8).toString('hex'));
        count++;
      }
    }
    assert.equal(windows.size, count);
  });

  it('refuses sizes that are not a positive whole number of bytes', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) assert.throws(() => newId(bad), RangeError);
    assert.equal(Buffer.from(newId(16), 'base64url').length, 16, 'and the pool is unharmed');
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
    // 6 standard deviations of a fair coin over n draws, for each of 128 bits: fails by chance
    // about once in 4 million runs.
    const sd = Math.sqrt(n) / 2;
    for (const count of ones) assert.ok(Math.abs(count - n / 2) < 6 * sd, `a bit set ${count} times of ${n}`);
  });
});
