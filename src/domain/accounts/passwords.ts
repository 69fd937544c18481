// argon2id hashing of passwords and challenge answers, with parameters from config.
import argon2 from 'argon2';

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

export class SecretHasher {
  readonly #params: Argon2Params & { type: typeof argon2.argon2id };
  #decoy: Promise<string> | undefined;

  constructor(params: Argon2Params) {
    this.#params = { ...params, type: argon2.argon2id };
  }

  hash(secret: string): Promise<string> {
    return argon2.hash(secret, this.#params);
  }

  async verify(hash: string, secret: string): Promise<VerifyResult> {
    let ok = false;
    try {
      ok = await argon2.verify(hash, secret);
    } catch {
      ok = false; // a malformed stored hash never verifies
    }
    return { ok, needsRehash: ok && argon2.needsRehash(hash, this.#params) };
  }

  /** Spend the same time as a real verification (unknown accounts), always false. */
  async verifyDecoy(secret: string): Promise<false> {
    this.#decoy ??= this.hash(`decoy-${Math.random()}`);
    await this.verify(await this.#decoy, secret);
    return false;
  }
}
