// Which apps an account sees on the portal: an app lists the roles and levels it is
// for; an empty list means everyone. "form-teacher" is the role of staff who are form
// teacher of a class (Account.formClasses), not a stored role.
import type { Account } from './accounts/account.ts';
import { mayTeach } from './classes/classes.ts';

function rolesOf(account: Account): string[] {
  return mayTeach(account) && account.formClasses?.length ? [...account.roles, 'form-teacher'] : account.roles;
}

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
      (app.roles.length === 0 || app.roles.some((r) => rolesOf(account).includes(r))) &&
      (app.levels.length === 0 || (account.level !== null && app.levels.includes(account.level))),
  );
}
