// The encrypted backup file, written and read as a stream (README "Backup and restore").
//
//   "IDPBACKUP1\n" | uint32 header length | header JSON | frame* | final frame | EOF
//   frame = uint32 ciphertext length | uint8 kind (0 data, 1 final) | ciphertext | 16-byte GCM tag
//
// Key: scrypt(passphrase, random salt) -> 64 bytes: 32 for AES-256-GCM, 32 for a key check
// kept in the header (so a wrong key is told apart from a damaged file). Every frame has its
// own IV (random 4-byte prefix + 64-bit sequence number) and authenticates, as associated
// data, the SHA-256 of the header, its sequence number and its kind: a changed header, a
// frame changed, dropped, repeated or moved fails authentication. The final frame carries
// the counts and the SHA-256 of the whole plaintext; a file without it is truncated, bytes
// after it are refused.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt, timingSafeEqual, type BinaryLike, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';

const MAGIC = Buffer.from('IDPBACKUP1\n');
const TAG = 16;
const MAX_FRAME = 16 * 1024 * 1024;
const CHUNK = 256 * 1024;
const KIND_DATA = 0;
const KIND_FINAL = 1;

/** A backup refused or not writable: the message is one line for the operator. */
export class BackupError extends Error {
  override name = 'BackupError';
}

interface Header {
  format: 1;
  cipher: 'aes-256-gcm';
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  noncePrefix: string;
  keyCheck: string;
  createdAt: string;
}

export interface FinalSummary {
  frames: number;
  lines: number;
  bytes: number;
  sha256: string;
  [extra: string]: unknown;
}

/** scrypt for a passphrase: N=2^17, r=8, p=1 (128 MiB, the current recommendation). */
const KDF = { N: 1 << 17, r: 8, p: 1 };
/** The only parameters a header may name (2^15 and 2^16: files of earlier builds): a crafted header cannot make us allocate gigabytes. */
const KNOWN_N = new Set([1 << 15, 1 << 16, 1 << 17]);

function derive(secret: BinaryLike, salt: Buffer, kdf: { N: number; r: number; p: number }): Promise<{ key: Buffer; check: Buffer }> {
  if (!KNOWN_N.has(kdf.N) || kdf.r !== 8 || kdf.p !== 1) return Promise.reject(new BackupError('backup header names scrypt parameters this tool never writes: not a backup this tool wrote'));
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 64, { ...kdf, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (err, out) => {
      if (err) reject(err);
      else resolve({ key: out.subarray(0, 32), check: createHmac('sha256', out.subarray(32)).update('idp-backup key check').digest().subarray(0, 16) });
    });
  });
}

function iv(prefix: Buffer, seq: number): Buffer {
  const b = Buffer.alloc(12);
  prefix.copy(b, 0, 0, 4);
  b.writeBigUInt64BE(BigInt(seq), 4);
  return b;
}

function aad(headerHash: Buffer, seq: number, kind: number): Buffer {
  const b = Buffer.alloc(headerHash.length + 9);
  headerHash.copy(b);
  b.writeBigUInt64BE(BigInt(seq), headerHash.length);
  b[headerHash.length + 8] = kind;
  return b;
}

/** Writes plaintext lines into an encrypted backup file, CHUNK bytes a frame. */
export class BackupWriter {
  readonly #out: WriteStream;
  readonly #key: Buffer;
  readonly #prefix: Buffer;
  readonly #headerHash: Buffer;
  readonly #sha: Hash = createHash('sha256');
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #seq = 0;
  #lines = 0;
  #bytes = 0;

  private constructor(out: WriteStream, key: Buffer, prefix: Buffer, headerHash: Buffer) {
    this.#out = out;
    this.#key = key;
    this.#prefix = prefix;
    this.#headerHash = headerHash;
  }

  /** Creates `file` (never overwrites one; mode 600) for the secret. */
  static async create(file: string, secret: Buffer): Promise<BackupWriter> {
    const salt = randomBytes(16);
    const { key, check } = await derive(secret, salt, KDF);
    const prefix = randomBytes(4);
    const header: Header = {
      format: 1,
      cipher: 'aes-256-gcm',
      kdf: { name: 'scrypt', ...KDF, salt: salt.toString('base64') },
      noncePrefix: prefix.toString('base64'),
      keyCheck: check.toString('base64'),
      createdAt: new Date().toISOString(),
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    await once(out, 'open');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(headerBytes.length);
    const w = new BackupWriter(out, key, prefix, createHash('sha256').update(MAGIC).update(len).update(headerBytes).digest());
    await w.#write(Buffer.concat([MAGIC, len, headerBytes]));
    return w;
  }

  async #write(b: Buffer): Promise<void> {
    if (!this.#out.write(b)) await once(this.#out, 'drain');
  }

  async #frame(kind: number, plain: Buffer): Promise<void> {
    const seq = this.#seq++;
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv(this.#prefix, seq));
    cipher.setAAD(aad(this.#headerHash, seq, kind));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length);
    head[4] = kind;
    await this.#write(Buffer.concat([head, body, cipher.getAuthTag()]));
  }

  /** Appends one line (a JSON record, without its newline). */
  async line(text: string): Promise<void> {
    const b = Buffer.from(`${text}\n`);
    this.#sha.update(b);
    this.#lines++;
    this.#bytes += b.length;
    this.#pending.push(b);
    this.#pendingBytes += b.length;
    if (this.#pendingBytes >= CHUNK) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (!this.#pendingBytes) return;
    const plain = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#frame(KIND_DATA, plain);
  }

  /** Writes the final frame (counts and checksum, plus `extra`) and closes the file. */
  async finish(extra: Record<string, unknown>): Promise<FinalSummary> {
    await this.#flush();
    const summary: FinalSummary = { ...extra, frames: this.#seq, lines: this.#lines, bytes: this.#bytes, sha256: this.#sha.digest('hex') };
    await this.#frame(KIND_FINAL, Buffer.from(JSON.stringify(summary)));
    await new Promise<void>((resolve, reject) => this.#out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return summary;
  }

  /** Gives up: closes the file (the caller removes it). */
  abort(): void {
    this.#out.destroy();
  }
}

async function readExact(fh: FileHandle, n: number, pos: number): Promise<Buffer | null> {
  const b = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(b, got, n - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  if (got === 0) return null;
  if (got < n) throw new BackupError(`backup is truncated (ends inside a chunk at byte ${pos + got}): nothing restored`);
  return b;
}

/**
 * Decrypts a backup, yielding its plaintext lines in order, and resolves the final frame's
 * summary after checking it. Every refusal is a BackupError with a one-line message. Lines
 * are yielded as their frame is authenticated: a caller that must not act on a damaged file
 * reads it through once before acting (see verify in backup.ts).
 */
export async function* readBackup(file: string, secret: Buffer): AsyncGenerator<string, FinalSummary, undefined> {
  const fh = await open(file, 'r');
  try {
    let pos = 0;
    const magic = await readExact(fh, MAGIC.length + 4, 0).catch(() => null);
    if (!magic || !magic.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupError(`${file} is not an IdP backup (no backup header)`);
    const headerLen = magic.readUInt32BE(MAGIC.length);
    if (headerLen > 64 * 1024) throw new BackupError(`${file} is not an IdP backup (header too long)`);
    pos = MAGIC.length + 4;
    const headerBytes = await readExact(fh, headerLen, pos);
    if (!headerBytes) throw new BackupError('backup is truncated (no header): nothing restored');
    pos += headerLen;
    let header: Header;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as Header;
    } catch {
      throw new BackupError('backup header is damaged: nothing restored');
    }
    if (header.format !== 1 || header.cipher !== 'aes-256-gcm' || header.kdf?.name !== 'scrypt') throw new BackupError(`backup format not supported (format ${String(header.format)}): nothing restored`);
    const { key, check } = await derive(secret, Buffer.from(header.kdf.salt, 'base64'), header.kdf);
    const expected = Buffer.from(header.keyCheck ?? '', 'base64');
    if (expected.length !== check.length || !timingSafeEqual(expected, check)) {
      throw new BackupError('wrong backup key: this backup was encrypted with another IDP_BACKUP_KEY / key file; nothing restored');
    }
    const prefix = Buffer.from(header.noncePrefix, 'base64');
    const headerHash = createHash('sha256').update(magic).update(headerBytes).digest();
    const sha = createHash('sha256');
    let lines = 0;
    let bytes = 0;
    let carry = '';
    for (let seq = 0; ; seq++) {
      const head = await readExact(fh, 5, pos);
      if (!head) throw new BackupError(`backup is truncated (ends after chunk ${seq} without its end marker): nothing restored`);
      pos += 5;
      const len = head.readUInt32BE(0);
      const kind = head[4]!;
      if (len > MAX_FRAME || (kind !== KIND_DATA && kind !== KIND_FINAL)) throw new BackupError(`backup is damaged or was altered (chunk ${seq} has a bad frame header): nothing restored`);
      const body = await readExact(fh, len + TAG, pos);
      if (!body) throw new BackupError(`backup is truncated (ends before chunk ${seq}): nothing restored`);
      pos += len + TAG;
      const decipher = createDecipheriv('aes-256-gcm', key, iv(prefix, seq));
      decipher.setAAD(aad(headerHash, seq, kind));
      decipher.setAuthTag(body.subarray(len));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(body.subarray(0, len)), decipher.final()]);
      } catch {
        throw new BackupError(`backup is damaged or was altered (chunk ${seq} failed authentication): nothing restored`);
      }
      if (kind === KIND_FINAL) {
        const summary = JSON.parse(plain.toString('utf8')) as FinalSummary;
        if ((await fh.read(Buffer.alloc(1), 0, 1, pos)).bytesRead !== 0) throw new BackupError('backup has data after its end marker (altered): nothing restored');
        if (carry !== '' || summary.frames !== seq || summary.lines !== lines || summary.bytes !== bytes || summary.sha256 !== sha.digest('hex')) {
          throw new BackupError('backup checksum does not match its content (altered): nothing restored');
        }
        return summary;
      }
      sha.update(plain);
      bytes += plain.length;
      const text = carry + plain.toString('utf8');
      const parts = text.split('\n');
      carry = parts.pop()!;
      for (const line of parts) {
        lines++;
        yield line;
      }
    }
  } finally {
    await fh.close();
  }
}
