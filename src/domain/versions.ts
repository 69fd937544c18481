// Schema versions of the durable records other than accounts (README "Upgrading"; the
// account's own version is ACCOUNT_VERSION in accounts/account.ts). One policy for all,
// the one accounts follow:
// - a record without a version is version 1 (written by releases up to 52c4f97);
// - readers accept the previous version, the current one, and read a newer one too;
// - writers keep every field they do not know (they change the parsed record, never a
//   rebuilt one), and never write a record of a newer version: they refuse with
//   NewerRecordError (SSPR 5019) and leave it as it is;
// - additive changes (a new optional field) do not bump a version; a change of meaning does.
//
// Where the version lives, record by record, and why (rolling upgrades: the previous
// release reads every shape this one writes, so no format changes and no migration that
// old processes could not follow):
// - locks ({login:<id>}:locked, JSON): a `v` field in the JSON. The previous release reads
//   `since` and ignores the rest.
// - audit events (stream entries, string fields): a `v` field in each entry. Entries are
//   appended, never rewritten; every reader passes fields it does not know through.
// - login-ID claims ({login:<id>} -> account id) and the two indexes (dir:logins,
//   dir:names: sorted sets of "key\0accountId"): these values are bare strings, read on
//   every sign-in and search by old and new processes alike; giving each one a version
//   would change a hot key's value type (JSON instead of the id) and break every process of
//   the previous release during a rolling upgrade. Their version is carried alongside,
//   once for the three structures, in the durable record `dir:layout` (JSON, `v`, unknown
//   fields kept): absent = version 1, the same shapes as version 2. What version 2 adds is
//   that readers are ready for the next shape: a claim holding JSON ({"v":..,"id":..}) is
//   read for its `id`, index members with more \0-separated parts are read for their
//   first two; so a later release can move to such shapes once this one is its previous.
//   A layout newer than this release's is read but this release then refuses to write
//   claims or index entries (account creation, renames, restore) with NewerRecordError.
import { StoreUnavailableError } from '../store/index.ts';

/** Lock records ({login:<id>}:locked) this release writes. */
export const LOCK_VERSION = 2;
/** Audit stream entries this release appends. */
export const AUDIT_VERSION = 2;
/** The layout of login-ID claims, dir:logins and dir:names (the `dir:layout` record). */
export const INDEX_VERSION = 2;

/**
 * A record written by a newer release (a higher `v`) met by this one: it is read but not
 * written, and the user sees SSPR 5019 (a StoreUnavailableError) until this process is
 * upgraded. See README "Upgrading" for why this refuses rather than writes.
 */
export class NewerRecordError extends StoreUnavailableError {
  override name = 'NewerRecordError';
}

/** The schema version of a stored record (absent = 1). Stream fields are strings: "2" is 2. */
export function recordVersion(record: { v?: unknown }): number {
  if (typeof record.v === 'number') return record.v;
  if (typeof record.v === 'string' && /^\d+$/.test(record.v)) return Number(record.v);
  return 1;
}
