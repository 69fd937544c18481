// Key material kept in keys/ (never committed): OIDC signing keys, cookie keys and the
// SAML signing key with its self-signed certificate. Generated at first start when
// absent, written with mode 0600, and shared by every IdP process that points at the
// same directory.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { ConfigError } from './settings.ts';

export interface SamlKeyPair {
  /** PKCS#8 PEM */
  privateKeyPem: string;
  /** X.509 PEM, published in metadata and at /saml/certificate.pem */
  certificatePem: string;
}

export interface KeyMaterial {
  /** Private JWK set for oidc-provider. */
  jwks: { keys: Array<Record<string, unknown>> };
  cookieKeys: string[];
  saml: SamlKeyPair;
}

function readOrCreate<T>(file: string, create: () => T, valid: (v: unknown) => v is T): T {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file}: cannot read (${(err as Error).message})`);
  }
  if (text === undefined) {
    const value = create();
    try {
      // wx: if another process created it meanwhile, use theirs.
      writeFileSync(file, JSON.stringify(value, null, 2), { mode: 0o600, flag: 'wx' });
      return value;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      text = readFileSync(file, 'utf8');
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file}: not valid JSON`);
  }
  if (!valid(parsed)) throw new ConfigError(`${file}: unexpected content; move it away to have it generated again`);
  return parsed;
}

function newSigningKeys(): KeyMaterial['jwks'] {
  const kid = () => randomBytes(8).toString('hex');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return { keys: [{ ...rsa, kid: kid(), use: 'sig', alg: 'RS256' }, { ...ec, kid: kid(), use: 'sig', alg: 'ES256' }] };
}

/** A new RSA-2048 key and a self-signed certificate for it, valid for ten years. */
export function newSamlKeyPair(commonName: string): SamlKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  const notBefore = new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + 10 * 365 * 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certificatePem: forge.pki.certificateToPem(cert) };
}

function isSamlKeyPair(v: unknown): v is SamlKeyPair {
  const k = v as SamlKeyPair;
  if (typeof k?.privateKeyPem !== 'string' || typeof k.certificatePem !== 'string') return false;
  try {
    // The certificate must belong to the key.
    return new X509Certificate(k.certificatePem).checkPrivateKey(createPrivateKey(k.privateKeyPem));
  } catch {
    return false;
  }
}

export function loadKeyMaterial(dir: string): KeyMaterial {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const jwks = readOrCreate(path.join(dir, 'oidc-jwks.json'), newSigningKeys, (v): v is KeyMaterial['jwks'] =>
    Array.isArray((v as KeyMaterial['jwks'])?.keys) && (v as KeyMaterial['jwks']).keys.every((k) => typeof k.d === 'string'),
  );
  const cookieKeys = readOrCreate(
    path.join(dir, 'cookie-keys.json'),
    () => [randomBytes(32).toString('base64url')],
    (v): v is string[] => Array.isArray(v) && v.length > 0 && v.every((k) => typeof k === 'string' && k.length >= 32),
  );
  const saml = readOrCreate(path.join(dir, 'saml-signing.json'), () => newSamlKeyPair('School IdP SAML signing'), isSamlKeyPair);
  return { jwks, cookieKeys, saml };
}
