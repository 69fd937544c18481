// Key material kept in keys/ (never committed): OIDC signing keys and cookie keys.
// Generated at first start when absent, written with mode 0600, and shared by every
// IdP process that points at the same directory.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './settings.ts';

export interface KeyMaterial {
  /** Private JWK set for oidc-provider. */
  jwks: { keys: Array<Record<string, unknown>> };
  cookieKeys: string[];
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
  return { jwks, cookieKeys };
}
