// argon2id hashing of passwords and challenge answers, with parameters from config.
// @node-rs/argon2 (the RustCrypto argon2 crate, prebuilt per platform as npm optional
// dependencies, no install script): it runs on every Node the package promises, where
// node-argon2 0.45's prebuilt binary crashed Node 20. Both write and read the same PHC
// strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so hashes made before stay valid
// (test/domain/accounts.test.ts checks hashes node-argon2 made).
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm, type Version } from '@node-rs/argon2';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface VerifyResult {
  ok: boolean;
  /** The hash was made with other parameters than the configured ones. */
  needsRehash: boolean;
}

// @node-rs/argon2's enums are `const enum`s, erased at run time: their values.
const ARGON2ID = 2 as Algorithm;
const VERSION_0x13 = 1 as Version;

export class SecretHasher {
  readonly #params: Argon2Params & { algorithm: Algorithm; version: Version };
  #decoy: Promise<string> | undefined;
  #unusable: Promise<string> | undefined;

  constructor(params: Argon2Params) {
    const { memoryCost, timeCost, parallelism } = params;
    this.#params = { memoryCost, timeCost, parallelism, algorithm: ARGON2ID, version: VERSION_0x13 };
  }

  hash(secret: string): Promise<string> {
    return hash(secret, this.#params);
  }

  async verify(stored: string, secret: string): Promise<VerifyResult> {
    let ok = false;
    try {
      ok = await verify(stored, secret);
    } catch {
      ok = false; // a malformed stored hash never verifies
    }
    return { ok, needsRehash: ok && this.#needsRehash(stored) };
  }

  /** Spend the same time as a real verification (unknown accounts), always false. */
  async verifyDecoy(secret: string): Promise<false> {
    this.#decoy ??= this.hash(`decoy-${Math.random()}`);
    await this.verify(await this.#decoy, secret);
    return false;
  }

  /**
   * A hash of a random secret nobody keeps, for accounts that have no password yet (made by a
   * roster: they sign in with a slip or a badge first). It verifies as slowly as any password
   * and never succeeds.
   */
  unusableHash(): Promise<string> {
    this.#unusable ??= this.hash(randomBytes(32).toString('base64url'));
    return this.#unusable;
  }

  /** Made with another variant, version or cost than the configured ones. */
  #needsRehash(stored: string): boolean {
    const made = parseOptions(stored);
    const want = this.#params;
    return made.algorithm !== want.algorithm || made.version !== want.version || made.memoryCost !== want.memoryCost
      || made.timeCost !== want.timeCost || made.parallelism !== want.parallelism;
  }
}
