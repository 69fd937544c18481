// The encrypted backup format on its own: frames moved, dropped or repeated are refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackupError, BackupWriter, readBackup } from '../../src/domain/backup/format.ts';

const SECRET = Buffer.from('a passphrase for the format test');

async function readAll(file: string, secret = SECRET): Promise<string[]> {
  const lines: string[] = [];
  const it = readBackup(file, secret);
  for (;;) {
    const r = await it.next();
    if (r.done) return lines;
    lines.push(r.value);
  }
}

/** [start, end) of every frame after the header. */
function frames(bytes: Buffer): Array<[number, number]> {
  let pos = 11 + 4 + bytes.readUInt32BE(11);
  const out: Array<[number, number]> = [];
  while (pos < bytes.length) {
    const end = pos + 5 + bytes.readUInt32BE(pos) + 16;
    out.push([pos, end]);
    pos = end;
  }
  return out;
}

describe('backup file format', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-format-'));
  const file = path.join(dir, 'b.enc');
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(200) }));

  before(async () => {
    const w = await BackupWriter.create(file, SECRET);
    for (const l of lines) await w.line(l);
    const summary = await w.finish({ accounts: lines.length });
    assert.equal(summary.lines, lines.length);
  });

  it('round-trips in several authenticated chunks', async () => {
    assert.ok(frames(readFileSync(file)).length >= 3);
    assert.deepEqual(await readAll(file), lines);
  });

  for (const [what, mutate, message] of [
    ['two chunks swapped', (b: Buffer, f: Array<[number, number]>) => Buffer.concat([b.subarray(0, f[0]![0]), b.subarray(f[1]![0], f[1]![1]), b.subarray(f[0]![0], f[0]![1]), b.subarray(f[1]![1])]), /chunk 0 failed authentication/],
    ['a chunk dropped', (b: Buffer, f: Array<[number, number]>) => Buffer.concat([b.subarray(0, f[0]![0]), b.subarray(f[1]![0])]), /chunk 0 failed authentication/],
    ['a chunk repeated', (b: Buffer, f: Array<[number, number]>) => Buffer.concat([b.subarray(0, f[1]![1]), b.subarray(f[1]![0])]), /chunk 2 failed authentication/],
    ['the end marker dropped', (b: Buffer, f: Array<[number, number]>) => b.subarray(0, f[f.length - 1]![0]), /truncated/],
    ['bytes after the end marker', (b: Buffer) => Buffer.concat([b, Buffer.from('x')]), /data after its end marker/],
    ['the header changed', (b: Buffer) => Buffer.from(b.toString('latin1').replace('"format":1,', '"format":1 ,'), 'latin1').subarray(0, b.length + 1), /.+/],
  ] as const) {
    it(`refuses ${what}`, async () => {
      const bytes = readFileSync(file);
      const bad = path.join(dir, 'bad.enc');
      writeFileSync(bad, mutate(bytes, frames(bytes)));
      await assert.rejects(readAll(bad), (err: Error) => err instanceof BackupError && message.test(err.message));
    });
  }

  it('refuses a wrong key before reading any chunk', async () => {
    await assert.rejects(readAll(file, Buffer.from('not the passphrase at all')), /wrong backup key/);
  });
});
