// A software passkey authenticator (ES256, "none" attestation) for HTTP tests and benchmarks:
// it answers the WebAuthn options a page carries as a browser with a real authenticator
// would (clientDataJSON, authenticatorData, signature), so tests can also send what a
// browser never would: a replayed assertion, one made for another site, one signed by a
// key the IdP does not know. Chromium's virtual authenticator covers the real browser path.
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Buffer | Uint8Array) => Buffer.from(b).toString('base64url');

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface WebAuthnOptions {
  challenge: string;
  rp?: { id?: string };
  rpId?: string;
  user?: { id: string };
  allowCredentials?: Array<{ id: string }>;
}

export class SoftAuthenticator {
  readonly credentials: Credential[] = [];
  /** Whether the user is verified (PIN, biometrics) in the responses. */
  userVerified = true;

  /** A registration response (navigator.credentials.create) for these options, as `origin`. */
  register(options: WebAuthnOptions, origin: string): Record<string, unknown> {
    const rpId = options.rp?.id ?? new URL(origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const id = randomBytes(32);
    const credential: Credential = { id, privateKey, publicKey, rpId, userHandle: options.user?.id ?? '', counter: 0 };
    this.credentials.push(credential);
    const flags = 0x01 | (this.userVerified ? 0x04 : 0) | 0x40; // UP, UV, AT
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), u32(0), Buffer.alloc(16), u16(id.length), id, Buffer.from(cose)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: b64u(id), rawId: b64u(id), type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
    };
  }

  /** An authentication response (navigator.credentials.get) for these options, as `origin`. */
  assert(options: WebAuthnOptions, origin: string, credential = this.#pick(options)): Record<string, unknown> {
    const rpId = options.rpId ?? new URL(origin).hostname;
    credential.counter++;
    const flags = 0x01 | (this.userVerified ? 0x04 : 0);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), u32(credential.counter)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const signature = createSign('sha256').update(Buffer.concat([authData, sha256(clientDataJSON)])).sign(credential.privateKey);
    return {
      id: b64u(credential.id), rawId: b64u(credential.id), type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: credential.userHandle || undefined },
    };
  }

  #pick(options: WebAuthnOptions): Credential {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const found = allowed.length ? this.credentials.find((c) => allowed.includes(b64u(c.id))) : this.credentials[0];
    if (!found) throw new Error('no credential for these options');
    return found;
  }
}

/** The WebAuthn options a page carries (data-webauthn-options), HTML-decoded. */
export function pageOptions(html: string): WebAuthnOptions {
  const raw = /data-webauthn-options="([^"]*)"/.exec(html)?.[1];
  if (!raw) throw new Error(`no WebAuthn options on the page:\n${html.slice(0, 500)}`);
  return JSON.parse(raw.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')) as WebAuthnOptions;
}

function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
