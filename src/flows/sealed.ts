// Values a flow must keep between steps but the store must not be able to read
// (challenge answers between "Save Answers" and "Confirm Security Answers"): sealed with
// AES-256-GCM under a key derived from the browser's own secret cookie, so Redis holds
// only ciphertext that nothing but that browser's next request can open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

function keyFor(browserSecret: string, flowId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', browserSecret, flowId, 'idp flow sealed values', 32));
}

export function seal(value: unknown, browserSecret: string, flowId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(browserSecret, flowId), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

/** The sealed value, or undefined when it cannot be opened (other browser, tampering). */
export function unseal<T>(sealed: string | undefined, browserSecret: string, flowId: string): T | undefined {
  if (!sealed) return undefined;
  try {
    const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', keyFor(browserSecret, flowId), iv!);
    decipher.setAuthTag(tag!);
    return JSON.parse(Buffer.concat([decipher.update(body!), decipher.final()]).toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
