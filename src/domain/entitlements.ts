// Which apps an account sees on the portal: an app lists the roles and levels it is
// for; an empty list means everyone.
import type { Account } from './accounts/account.ts';

export interface AppDefinition {
  id: string;
  name: string;
  description: string;
  url: string;
  roles: string[];
  levels: string[];
}

export function entitledApps<T extends AppDefinition>(account: Account, apps: readonly T[]): T[] {
  return apps.filter(
    (app) =>
      (app.roles.length === 0 || app.roles.some((r) => (account.roles as string[]).includes(r))) &&
      (app.levels.length === 0 || (account.level !== null && app.levels.includes(account.level))),
  );
}
