// Accounts as the previous release (52c4f97, schema version 1) wrote them, loaded raw into
// a store: the same keys and JSON that release's Directory.create wrote, without `v`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import type { Account } from '../../src/domain/accounts/account.ts';
import { keys, type Store } from '../../src/store/index.ts';
import type { Directory } from '../../src/domain/accounts/directory.ts';

export const V1_PASSWORD = 'Old-Password-11';
export const V1_ANSWERS = ['ramen', 'shark', 'turquoise'];

const template = (JSON.parse(readFileSync(path.join(projectRoot, 'test/backup/fixtures/v1-account.json'), 'utf8')) as { record: Account }).record;

export function v1Record(i: number, extra: Record<string, unknown> = {}): Account {
  const n = String(i).padStart(6, '0');
  return { ...structuredClone(template), id: `acc_v1_${n}`, loginId: `v1_student_${n}@students.edu.sg`, displayName: `V1 Student ${n}`, ...extra } as Account;
}

/** Writes `count` v1 accounts into the directory (their JSON as the old release wrote it; again over any written before). */
export async function loadV1(directory: Directory, count: number, extra: (i: number) => Record<string, unknown> = () => ({})): Promise<Account[]> {
  const records = Array.from({ length: count }, (_, i) => v1Record(i, extra(i)));
  for (let i = 0; i < records.length; i += 50) await Promise.all(records.slice(i, i + 50).map((r) => directory.restore(r, { overwrite: true })));
  return records;
}

/** Writes accounts into a Redis as the releases before PostgreSQL kept the directory (for migrate-directory). */
export async function loadIntoRedis(store: Store, records: Account[]): Promise<Account[]> {
  for (let i = 0; i < records.length; i += 200) {
    await Promise.all(records.slice(i, i + 200).map(async (r) => {
      await store.set(keys.loginId(r.loginId), r.id, { onlyIfAbsent: true });
      await store.set(keys.account(r.id), JSON.stringify(r));
      await store.indexAdd(keys.directoryIndex(), `${r.loginId}\u0000${r.id}`);
      await store.indexAdd(keys.nameIndex(), `${r.displayName.toLowerCase()}\u0000${r.id}`);
    }));
  }
  return records;
}
