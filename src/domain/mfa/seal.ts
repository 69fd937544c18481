// Secrets the IdP must read back (the TOTP secret) are sealed with AES-256-GCM under a key
// derived from the deployment's secret key material, so the store holds only ciphertext.
// Recovery codes are kept as keyed hashes under a second derived key (they are random and
// long, so a keyed SHA-256 is enough, and checking ten of them costs nothing).
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export class SecretSeal {
  readonly #key: Buffer | null;
  readonly #hashKey: Buffer | null;

  constructor(secret: string | null, purpose: string) {
    this.#key = secret === null ? null : Buffer.from(hkdfSync('sha256', secret, 'school-idp', `seal:${purpose}`, 32));
    this.#hashKey = secret === null ? null : Buffer.from(hkdfSync('sha256', secret, 'school-idp', `hash:${purpose}`, 32));
  }

  /** For a process without the deployment's keys (some CLI commands): any use fails loudly. */
  static unavailable(): SecretSeal {
    return new SecretSeal(null, 'none');
  }

  #keys(): { key: Buffer; hashKey: Buffer } {
    if (!this.#key || !this.#hashKey) throw new Error('second-factor secrets need the key material (IDP_KEYS_DIR), which this process did not load');
    return { key: this.#key, hashKey: this.#hashKey };
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys().key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || !body) throw new Error('sealed secret malformed');
    const decipher = createDecipheriv('aes-256-gcm', this.#keys().key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  hash(value: string): string {
    return createHmac('sha256', this.#keys().hashKey).update(value).digest('base64url');
  }
}
