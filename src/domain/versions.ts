// Schema versions of the records other than accounts (README "Upgrading"; the account's
// own version is ACCOUNT_VERSION in accounts/account.ts). One policy for all, the one
// accounts follow:
// - a record without a version is version 1 (written by releases up to 52c4f97);
// - readers accept the previous version, the current one, and read a newer one too;
// - writers keep every field they do not know (they change the parsed record, never a
//   rebuilt one), and never write a record of a newer version: they refuse with
//   NewerRecordError (SSPR 5019) and leave it as it is;
// - additive changes (a new optional field) do not bump a version; a change of meaning does.
// Where the version lives:
// - locks ({login:<id>}:locked in Redis, JSON): a `v` field in the JSON. Releases before
//   read `since` and ignore the rest.
// - audit events (the database's audit_events, one JSON object each): a `v` field. Events
//   are appended, never rewritten; every reader passes fields it does not know through.
// The directory's tables themselves are versioned by their migrations (store/database/).
import { StoreUnavailableError } from '../store/index.ts';

/** Lock records ({login:<id>}:locked) this release writes. */
export const LOCK_VERSION = 2;
/** Audit stream entries this release appends. */
export const AUDIT_VERSION = 2;

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
