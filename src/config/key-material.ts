// Key material kept in keys/ (never committed): OIDC signing keys, cookie keys and the
// SAML signing key with its self-signed certificate. Generated at first start when
// absent, written with mode 0600 (atomically: temporary file, then rename), and shared by
// every IdP process that points at the same directory.
//
// Keys rotate (README "Key rotation"). Every key has a life cycle, kept beside it:
//   next      published (JWKS, SAML metadata; cookie keys verify) but signs nothing yet
//   current   signs (one generation at a time)
//   retiring  no longer signs, still published / still verifies until retireAfter
// The operator CLI moves keys along (`keys rotate|activate|retire`); every process notices
// the changed files (watchKeyMaterial) and applies them without restart.
// Files written before rotation existed (a bare JWKS, a cookie key array, one SAML key
// pair) are read as keys that are all `current`.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { ConfigError } from './settings.ts';

export interface SamlKeyPair {
  /** PKCS#8 PEM */
  privateKeyPem: string;
  /** X.509 PEM, published in metadata and at /saml/certificate.pem */
  certificatePem: string;
}

export type KeyKind = 'oidc' | 'saml' | 'cookie';
export const KEY_KINDS: readonly KeyKind[] = ['oidc', 'saml', 'cookie'];
export type KeyState = 'next' | 'current' | 'retiring';

export interface Lifecycle {
  state: KeyState;
  /** ISO 8601 times */
  created: string;
  activated?: string;
  /** For `retiring`: when it may be dropped (`keys retire`). Absent: at any time. */
  retireAfter?: string;
}

type Jwk = Record<string, unknown>;

interface Entry<M> {
  id: string;
  material: M;
  life: Lifecycle;
}

/** What `keys status`, /metrics and the expiry warning show of one key. */
export interface KeyInfo {
  kind: KeyKind;
  id: string;
  /** JWS algorithm (oidc), "RSA certificate" (saml), "HMAC" (cookie) */
  use: string;
  life: Lifecycle;
  /** SAML certificates: notAfter (ms since the epoch). */
  expires?: number;
}

export interface KeyMaterial {
  /** Private JWK set for oidc-provider: current keys first (they sign), then next, then retiring. */
  jwks: { keys: Jwk[] };
  /** Cookie keys: current first (it signs), then next and retiring (they verify). */
  cookieKeys: string[];
  /** The current SAML key pair: it signs. */
  saml: SamlKeyPair;
  /** Certificates published in SAML metadata: current first, then next, then retiring. */
  samlCertificates: Array<{ certificatePem: string; state: KeyState }>;
  /** Every key with its life cycle. */
  keys: KeyInfo[];
  /**
   * The key of the decoy questions shown for unknown login IDs (forgot password). Never
   * rotated: if it changed, an unknown login ID's questions would change while a real
   * account's stay, telling them apart. Created from the first cookie key (which served
   * as this key before rotation existed), so upgrading changes no decoy.
   */
  decoyKey: string;
}

export const KEY_FILES: Record<KeyKind, string> = { oidc: 'oidc-jwks.json', saml: 'saml-signing.json', cookie: 'cookie-keys.json' };

const ORDER: Record<KeyState, number> = { current: 0, next: 1, retiring: 2 };

/** current, next, retiring (the most recently retired first). */
function ordered<M>(entries: Entry<M>[]): Entry<M>[] {
  return [...entries].sort((a, b) => ORDER[a.life.state] - ORDER[b.life.state] || (b.life.activated ?? b.life.created).localeCompare(a.life.activated ?? a.life.created));
}

// ---- generating -------------------------------------------------------------------

function newOidcKeys(now: number): Entry<Jwk>[] {
  const kid = () => randomBytes(8).toString('hex');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const created = new Date(now).toISOString();
  return [{ ...rsa, kid: kid(), use: 'sig', alg: 'RS256' }, { ...ec, kid: kid(), use: 'sig', alg: 'ES256' }].map((jwk) => ({
    id: jwk.kid, material: jwk as Jwk, life: { state: 'current', created },
  }));
}

/** A new RSA-2048 key and a self-signed certificate for it, valid for ten years (or `validDays`). */
export function newSamlKeyPair(commonName: string, validDays = 10 * 365): SamlKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  const notBefore = new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + validDays * 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certificatePem: forge.pki.certificateToPem(cert) };
}

const SAML_CN = 'School IdP SAML signing';

function samlId(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase();
}

/** A cookie key's name in status and metrics: a hash, never part of the key. */
function cookieId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function newEntries(kind: KeyKind, now: number): Entry<unknown>[] {
  const created = new Date(now).toISOString();
  if (kind === 'oidc') return newOidcKeys(now);
  if (kind === 'cookie') {
    const key = randomBytes(32).toString('base64url');
    return [{ id: cookieId(key), material: key, life: { state: 'current', created } }];
  }
  const pair = newSamlKeyPair(SAML_CN);
  return [{ id: samlId(pair.certificatePem), material: pair, life: { state: 'current', created } }];
}

// ---- files ------------------------------------------------------------------------

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

function isLifecycle(v: unknown): v is Lifecycle {
  const l = v as Lifecycle;
  return (
    (l?.state === 'next' || l?.state === 'current' || l?.state === 'retiring') &&
    typeof l.created === 'string' &&
    (l.activated === undefined || typeof l.activated === 'string') &&
    (l.retireAfter === undefined || typeof l.retireAfter === 'string')
  );
}

/** The entries of a file's JSON, in the current or the pre-rotation format; null: not valid. */
function parseEntries(kind: KeyKind, v: unknown, fileTime: string): Entry<unknown>[] | null {
  const legacy = (): Lifecycle => ({ state: 'current', created: fileTime });
  if (kind === 'oidc') {
    const set = v as { keys?: Jwk[]; lifecycle?: Record<string, unknown> };
    if (!Array.isArray(set?.keys) || !set.keys.every((k) => typeof k.d === 'string' && typeof k.kid === 'string')) return null;
    const entries = set.keys.map((jwk) => ({ id: jwk.kid as string, material: jwk as unknown, life: set.lifecycle?.[jwk.kid as string] ?? legacy() }));
    return entries.every((e) => isLifecycle(e.life)) ? (entries as Entry<unknown>[]) : null;
  }
  if (kind === 'cookie') {
    const validKey = (k: unknown): k is string => typeof k === 'string' && k.length >= 32;
    if (Array.isArray(v)) {
      // Before rotation: the first signs, the others verify.
      if (v.length === 0 || !v.every(validKey)) return null;
      return v.map((key, i) => ({ id: cookieId(key), material: key, life: i === 0 ? legacy() : { state: 'retiring', created: fileTime } }));
    }
    const set = v as { keys?: Array<{ key: unknown } & Lifecycle> };
    if (!Array.isArray(set?.keys) || !set.keys.every((k) => validKey(k.key) && isLifecycle(lifeOf(k)))) return null;
    return set.keys.map((k) => ({ id: cookieId(k.key as string), material: k.key, life: lifeOf(k) }));
  }
  if (isSamlKeyPair(v)) return [{ id: samlId(v.certificatePem), material: { privateKeyPem: v.privateKeyPem, certificatePem: v.certificatePem }, life: legacy() }];
  const set = v as { keys?: Array<SamlKeyPair & Lifecycle> };
  if (!Array.isArray(set?.keys) || !set.keys.every((k) => isSamlKeyPair(k) && isLifecycle(lifeOf(k)))) return null;
  return set.keys.map((k) => ({ id: samlId(k.certificatePem), material: { privateKeyPem: k.privateKeyPem, certificatePem: k.certificatePem }, life: lifeOf(k) }));
}

function lifeOf(k: Lifecycle): Lifecycle {
  const { state, created, activated, retireAfter } = k;
  return { state, created, ...(activated ? { activated } : {}), ...(retireAfter ? { retireAfter } : {}) };
}

function serialise(kind: KeyKind, entries: Entry<unknown>[]): unknown {
  const list = ordered(entries);
  if (kind === 'oidc') {
    return { keys: list.map((e) => e.material), lifecycle: Object.fromEntries(list.map((e) => [e.id, e.life])) };
  }
  if (kind === 'cookie') return { keys: list.map((e) => ({ key: e.material, ...e.life })) };
  return { keys: list.map((e) => ({ ...(e.material as SamlKeyPair), ...e.life })) };
}

/** Writes a key file atomically (temporary file with mode 0600 in the same directory, then rename). */
export function writeKeyFile(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function readEntries(dir: string, kind: KeyKind, create: boolean): Entry<unknown>[] {
  const file = path.join(dir, KEY_FILES[kind]);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file}: cannot read (${(err as Error).message})`);
    if (!create) throw new ConfigError(`${file}: missing; start the IdP once to have it generated`);
  }
  if (text === undefined) {
    const entries = newEntries(kind, Date.now());
    try {
      // wx: if another process created it meanwhile, use theirs.
      writeFileSync(file, JSON.stringify(serialise(kind, entries), null, 2), { mode: 0o600, flag: 'wx' });
      return entries;
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
  const entries = parseEntries(kind, parsed, statSync(file).mtime.toISOString());
  if (!entries) throw new ConfigError(`${file}: unexpected content; move it away to have it generated again`);
  if (kind === 'oidc') {
    for (const alg of new Set(entries.map((e) => (e.material as Jwk).alg))) {
      if (!entries.some((e) => e.life.state === 'current' && (e.material as Jwk).alg === alg)) throw new ConfigError(`${file}: no current key for ${String(alg)}`);
    }
  } else if (entries.filter((e) => e.life.state === 'current').length !== 1) {
    throw new ConfigError(`${file}: exactly one key must be current`);
  }
  return entries;
}

function infoOf(kind: KeyKind, e: Entry<unknown>): KeyInfo {
  if (kind === 'oidc') return { kind, id: e.id, use: String((e.material as Jwk).alg), life: e.life };
  if (kind === 'cookie') return { kind, id: e.id, use: 'HMAC', life: e.life };
  const cert = new X509Certificate((e.material as SamlKeyPair).certificatePem);
  return { kind, id: e.id, use: 'RSA certificate', life: e.life, expires: Date.parse(cert.validTo) };
}

export const DECOY_KEY_FILE = 'decoy-key.json';

function readDecoyKey(dir: string, initial: string, create: boolean): string {
  const file = path.join(dir, DECOY_KEY_FILE);
  const read = () => {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown };
    if (typeof v?.key !== 'string' || v.key.length < 32) throw new ConfigError(`${file}: unexpected content`);
    return v.key;
  };
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err instanceof SyntaxError ? new ConfigError(`${file}: not valid JSON`) : err;
  }
  if (!create) return initial;
  try {
    writeFileSync(file, `${JSON.stringify({ key: initial })}\n`, { mode: 0o600, flag: 'wx' });
    return initial;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return read();
  }
}

export function loadKeyMaterial(dir: string, options: { create?: boolean } = {}): KeyMaterial {
  const create = options.create ?? true;
  if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const oidc = ordered(readEntries(dir, 'oidc', create));
  const cookie = ordered(readEntries(dir, 'cookie', create));
  const saml = ordered(readEntries(dir, 'saml', create));
  return {
    decoyKey: readDecoyKey(dir, cookie[0]!.material as string, create),
    jwks: { keys: oidc.map((e) => e.material as Jwk) },
    cookieKeys: cookie.map((e) => e.material as string),
    saml: saml[0]!.material as SamlKeyPair,
    samlCertificates: saml.map((e) => ({ certificatePem: (e.material as SamlKeyPair).certificatePem, state: e.life.state })),
    keys: [...oidc.map((e) => infoOf('oidc', e)), ...saml.map((e) => infoOf('saml', e)), ...cookie.map((e) => infoOf('cookie', e))],
  };
}

// ---- rotation (the operator CLI) ---------------------------------------------------

export class RotationError extends Error {}

/** One change at a time (two operators, two shells): a lock file beside the keys, taken with O_EXCL. */
function locked<T>(dir: string, work: () => T): T {
  const lock = path.join(dir, '.keys.lock');
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A lock older than a minute is left by a command that died.
    if (Date.now() - statSync(lock).mtimeMs < 60_000) throw new RotationError(`${lock} exists: another keys command is running (remove the file if none is)`);
    rmSync(lock, { force: true });
    closeSync(openSync(lock, 'wx', 0o600));
  }
  try {
    return work();
  } finally {
    rmSync(lock, { force: true });
  }
}

function update(dir: string, kind: KeyKind, change: (entries: Entry<unknown>[]) => Entry<unknown>[]): void {
  locked(dir, () => {
    const entries = readEntries(dir, kind, false);
    writeKeyFile(path.join(dir, KEY_FILES[kind]), serialise(kind, change(entries)));
  });
}

/** Adds a `next` key (generation) of a kind: published at once, signs nothing yet. */
export function rotateKeys(dir: string, kind: KeyKind, now: number): KeyInfo[] {
  const added = newEntries(kind, now).map((e) => ({ ...e, life: { state: 'next' as const, created: new Date(now).toISOString() } }));
  update(dir, kind, (entries) => {
    if (entries.some((e) => e.life.state === 'next')) throw new RotationError(`there is already a next ${kind} key: activate it (keys activate ${kind}) before rotating again`);
    return [...entries, ...added];
  });
  return added.map((e) => infoOf(kind, e));
}

/**
 * next → current (it signs from now on), current → retiring until now + holdMs.
 * Refused while the next key has been published for less than minPublishedMs.
 */
export function activateKeys(dir: string, kind: KeyKind, now: number, holdMs: number, minPublishedMs: number): { activated: KeyInfo[]; retiring: KeyInfo[] } {
  const result = { activated: [] as KeyInfo[], retiring: [] as KeyInfo[] };
  update(dir, kind, (entries) => {
    const next = entries.filter((e) => e.life.state === 'next');
    if (next.length === 0) throw new RotationError(`there is no next ${kind} key: add one first (keys rotate ${kind})`);
    const publishedFor = now - Math.min(...next.map((e) => Date.parse(e.life.created)));
    if (publishedFor < minPublishedMs) {
      const at = new Date(Math.min(...next.map((e) => Date.parse(e.life.created))) + minPublishedMs).toISOString();
      throw new RotationError(`the next ${kind} key has been published for ${Math.floor(publishedFor / 1000)} s only; activate it at ${at} or later (--now overrides)`);
    }
    const iso = new Date(now).toISOString();
    const retireAfter = new Date(now + holdMs).toISOString();
    return entries.map((e) => {
      if (e.life.state === 'next') {
        const life: Lifecycle = { state: 'current', created: e.life.created, activated: iso };
        result.activated.push(infoOf(kind, { ...e, life }));
        return { ...e, life };
      }
      if (e.life.state === 'current') {
        const life: Lifecycle = { ...e.life, state: 'retiring', retireAfter };
        result.retiring.push(infoOf(kind, { ...e, life }));
        return { ...e, life };
      }
      return e;
    });
  });
  return result;
}

/** Drops retiring keys whose retireAfter has passed (all retiring keys with `force`). */
export function retireKeys(dir: string, kind: KeyKind, now: number, force = false): { removed: KeyInfo[]; kept: KeyInfo[] } {
  const result = { removed: [] as KeyInfo[], kept: [] as KeyInfo[] };
  const due = (l: Lifecycle) => l.state === 'retiring' && (force || !l.retireAfter || Date.parse(l.retireAfter) <= now);
  update(dir, kind, (entries) => {
    for (const e of entries) if (e.life.state === 'retiring') (due(e.life) ? result.removed : result.kept).push(infoOf(kind, e));
    return entries.filter((e) => !due(e.life));
  });
  return result;
}

// ---- every process: reload on change -------------------------------------------------

/** Size, modification time and inode of the key files: changes when the CLI rewrites one. */
function signature(dir: string): string {
  return KEY_KINDS.map((k) => {
    try {
      const s = statSync(path.join(dir, KEY_FILES[k]));
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return '-';
    }
  }).join('|');
}

export interface KeyWatcher {
  /** Checks the files now (the watcher also does so on fs events and every pollMs). */
  check(): void;
  close(): void;
}

/**
 * Calls onChange with the new key material whenever the key files change: fs.watch on the
 * directory, and a stat of the files every pollMs (fs.watch misses changes on some file
 * systems, e.g. network mounts). A file that does not load is reported to onError and
 * the keys in use stay.
 */
export function watchKeyMaterial(dir: string, onChange: (material: KeyMaterial) => void, onError: (err: unknown) => void, pollMs = 2_000): KeyWatcher {
  let last = signature(dir);
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const now = signature(dir);
    if (now === last) return;
    last = now;
    try {
      onChange(loadKeyMaterial(dir, { create: false }));
    } catch (err) {
      onError(err);
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, () => {
      // Coalesce the events of one rename.
      clearTimeout(timer);
      timer = setTimeout(check, 50);
      timer.unref();
    });
    watcher.on('error', () => undefined);
  } catch {
    // Polling alone.
  }
  const poll = setInterval(check, pollMs);
  poll.unref();
  return {
    check,
    close() {
      clearInterval(poll);
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

/** Current and next SAML certificates that expire within `withinMs` of now. */
export function expiringCertificates(material: KeyMaterial, now: number, withinMs = 30 * 86_400_000): KeyInfo[] {
  return material.keys.filter((k) => k.kind === 'saml' && k.life.state !== 'retiring' && k.expires !== undefined && k.expires - now < withinMs);
}
