// The directory of accounts. Durable data on the store:
//   {login:<loginId>} -> account id, claimed with SET NX, which makes login IDs unique
//   (also under concurrency and on a Cluster, since one key decides);
//   {acct:<id>}       -> the account as JSON, updated by compare-and-set.
import { keys, type Store } from '../../store/index.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Account } from './account.ts';

export class DuplicateLoginIdError extends Error {
  override name = 'DuplicateLoginIdError';
}

export type NewAccount = Omit<Account, 'id' | 'createdAt' | 'updatedAt' | 'lastSignInAt'>;

const INDEX_SEPARATOR = '\u0000';

function nameKey(a: Pick<Account, 'displayName'>): string {
  return a.displayName.toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
}

export class Directory {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async create(input: NewAccount): Promise<Account> {
    const now = this.#clock();
    const account: Account = { ...input, id: newId(), createdAt: now, updatedAt: now, lastSignInAt: null };
    const claimed = await this.#store.set(keys.loginId(account.loginId), account.id, { onlyIfAbsent: true });
    if (!claimed) throw new DuplicateLoginIdError(`login ID already exists: ${account.loginId}`);
    try {
      await this.#store.set(keys.account(account.id), JSON.stringify(account));
      await this.#store.indexAdd(keys.directoryIndex(), account.loginId + INDEX_SEPARATOR + account.id);
      await this.#store.indexAdd(keys.nameIndex(), nameKey(account) + INDEX_SEPARATOR + account.id);
    } catch (err) {
      // Never leave a login ID pointing at an account that was not written.
      await this.#store.del(keys.loginId(account.loginId)).catch(() => {});
      throw err;
    }
    return account;
  }

  async get(id: string): Promise<Account | null> {
    const raw = await this.#store.get(keys.account(id));
    return raw ? (JSON.parse(raw) as Account) : null;
  }

  /** `loginId` must already be normalised (see normaliseLoginId). */
  async findByLoginId(loginId: string): Promise<Account | null> {
    const id = await this.#store.get(keys.loginId(loginId));
    return id ? this.get(id) : null;
  }

  /**
   * Applies `change` to the current account and writes it only if nobody wrote in
   * between (compare-and-set), retrying on conflict. Resolves null when absent.
   */
  async update(id: string, change: (account: Account) => Account | null): Promise<Account | null> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.#store.get(keys.account(id));
      if (!raw) return null;
      const current = JSON.parse(raw) as Account;
      const next = change(structuredClone(current));
      if (!next) return current;
      if (next.loginId !== current.loginId || next.id !== current.id) throw new Error('login ID and id cannot change through update');
      next.updatedAt = this.#clock();
      if (await this.#store.compareAndSet(keys.account(id), raw, JSON.stringify(next))) {
        if (nameKey(next) !== nameKey(current)) {
          await this.#store.indexRemove(keys.nameIndex(), nameKey(current) + INDEX_SEPARATOR + id);
          await this.#store.indexAdd(keys.nameIndex(), nameKey(next) + INDEX_SEPARATOR + id);
        }
        return next;
      }
    }
    throw new Error(`account ${id} kept changing; update abandoned`);
  }

  /** Accounts whose display name starts with `prefix` (case-insensitive). */
  async searchNames(prefix: string, limit: number): Promise<Array<{ id: string }>> {
    const members = await this.#store.indexRange(keys.nameIndex(), prefix.toLocaleLowerCase('en'), limit);
    return members.map((m) => ({ id: m.split(INDEX_SEPARATOR)[1] ?? '' }));
  }

  /** Login IDs starting with `prefix`, in order; `after` continues a previous page. */
  async searchLoginIds(prefix: string, limit: number, after?: string): Promise<Array<{ loginId: string; id: string }>> {
    const members = await this.#store.indexRange(keys.directoryIndex(), prefix.toLowerCase(), limit, after);
    return members.map((m) => {
      const [loginId = '', id = ''] = m.split(INDEX_SEPARATOR);
      return { loginId, id };
    });
  }
}
