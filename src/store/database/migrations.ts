// The directory's schema, as numbered migrations. Applied at start-up (every process; one at
// a time, under an advisory lock) and by `npm run cli -- migrate [--dry-run]`. A migration is
// never edited once released: a change is a new one. A database migrated by a newer release
// (a version this one does not know) is refused rather than written with an older idea of it.
import { quoteIdent } from './postgres.ts';
import type { Database, Sql } from './database.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'directory',
    sql: `
-- One row per account. The record is the account as the domain has it (JSON, fields this
-- release does not know kept); the columns beside it are what the database must enforce or
-- search: a login ID belongs to one account, names are found by prefix.
create table accounts (
  id text primary key,
  login_id text collate "C" not null unique,
  name_key text collate "C" not null,
  school_code text collate "C",
  record jsonb not null,
  -- Counts the writes of the row: a change applies only to the version it read.
  rev integer not null default 0
);
create index accounts_name_key on accounts (name_key text_pattern_ops);
create index accounts_login_prefix on accounts (login_id text_pattern_ops);
-- Each account's name from each of its parts on ("allen tan", "tan"): a search by any part
-- of a name is a prefix search, in one school or all.
create table account_name_parts (
  part text collate "C" not null,
  school_code text collate "C" not null,
  account_id text not null references accounts (id) on delete cascade,
  primary key (school_code, part, account_id)
);
create index account_name_parts_part on account_name_parts (part text_pattern_ops);
create index account_name_parts_account on account_name_parts (account_id);
-- A passkey's credential id (hashed) names its account: signing in with a passkey alone.
create table passkeys (
  credential_hash text primary key,
  account_id text not null references accounts (id) on delete cascade
);
create index passkeys_account on passkeys (account_id);
-- Every state change that matters, appended; trimmed to the newest audit.maxEvents.
create table audit_events (
  seq bigserial primary key,
  event jsonb not null
);
-- OIDC clients registered over HTTP (RFC 7591), their registration access tokens (RFC 7592)
-- and initial access tokens: under a SHA-256 of their id; bearer tokens without their id.
create table oidc_registrations (
  model text collate "C" not null,
  id_digest text collate "C" not null,
  client_id text,
  payload jsonb not null,
  expires_at timestamptz,
  primary key (model, id_digest)
);
-- One row, rewritten to make sure what was committed before has reached the synchronous
-- standby (a commit waits for the standby to have everything up to its own place in the WAL).
create table sync_barrier (
  id integer primary key,
  at timestamptz not null
);
-- SAML service providers added with cli add-rp: one per entityID, ids unique.
create table saml_service_providers (
  entity_digest text collate "C" primary key,
  sp_id text collate "C" not null unique,
  rev text not null,
  record jsonb not null
);
`,
  },
  {
    version: 2,
    name: 'classes',
    sql: `
-- A class's students (Account.class: {year, name}), by school: a form teacher's class list
-- and a school's classes. Form teachers (Account.formClasses) are found among the school's
-- rows through the same leading column.
create index accounts_class on accounts (school_code, (record->'class'->>'year'), (record->'class'->>'name'));
-- Temporary passwords a form teacher asked for, waiting for the school administrator.
create index accounts_password_requests on accounts (school_code) where jsonb_typeof(record->'passwordRequest') = 'object';
`,
  },
  {
    version: 3,
    name: 'badges',
    sql: `
-- Sign-in badges (domain/badges): the keyed hash of each printed card's secret, and of its
-- PIN; voided badges stay (voided_at) so a scan of one says so. One valid badge per pupil.
create table badges (
  id text primary key,
  account_id text not null references accounts (id) on delete cascade,
  secret_hash text collate "C" not null unique,
  pin_hash text,
  issued_at bigint not null,
  issued_by text not null,
  voided_at bigint,
  voided_by text,
  -- Wrong PINs in the badge's life (badges.maxPinFailures void it).
  pin_failures integer not null default 0
);
create unique index badges_valid on badges (account_id) where voided_at is null;
`,
  },
  {
    version: 4,
    name: 'provisioning',
    sql: `
-- Provisioning clients (SCIM, README "Provisioning"): a bearer token each, kept as its
-- SHA-256, and the schools the client may read and change.
create table provisioning_clients (
  id text collate "C" primary key,
  name text not null,
  token_hash text collate "C" not null unique,
  schools jsonb not null,
  created_at bigint not null,
  revoked_at bigint
);
-- Each client's externalIds in its own namespace: (client, kind, externalId) names one
-- account ('user') or class ('group'); two clients may use the same externalId.
create table external_ids (
  client_id text collate "C" not null references provisioning_clients (id) on delete cascade,
  kind text collate "C" not null,
  external_id text collate "C" not null,
  target_id text collate "C" not null,
  primary key (client_id, kind, external_id)
);
create index external_ids_target on external_ids (target_id);
-- Classes as resources (SCIM Groups, OneRoster classes): a stable id for a school's class of
-- a year. Who is in it stays on the accounts (Account.class, Account.formClasses).
create table classes (
  id text collate "C" primary key,
  school_code text collate "C" not null,
  year integer not null,
  name text collate "C" not null,
  created_at bigint not null,
  updated_at bigint not null,
  unique (school_code, year, name)
);
-- Lifecycle (domain/provisioning/lifecycle.ts): accounts with a step due (a move or a leave
-- at its date, deletion after the retention period), and active accounts by last use.
create index accounts_lifecycle_due on accounts (((record->'lifecycle'->>'dueAt')::bigint)) where record->'lifecycle'->>'dueAt' is not null;
create index accounts_last_used on accounts (((coalesce(record->>'lastSignInAt', record->>'createdAt'))::bigint)) where record->>'status' = 'active';
create index accounts_updated on accounts (((record->>'updatedAt')::bigint));
-- What each app may receive, as chosen by the ministry (school_code '*': every school) and by
-- a school for its own pupils (domain/privacy/releases.ts): the kinds of data, on top of the app's file.
create table app_releases (
  app_key text collate "C" not null,
  school_code text collate "C" not null,
  items jsonb not null,
  updated_at bigint not null,
  updated_by text not null,
  primary key (app_key, school_code)
);
`,
  },
];

export interface MigrationReport {
  /** Versions applied now (or, with dryRun, that would be). */
  applied: Migration[];
  /** The schema version the database is at afterwards (before, with dryRun). */
  version: number;
}

export class NewerDatabaseError extends Error {
  override name = 'NewerDatabaseError';
}

const LOCK = `select pg_advisory_xact_lock(hashtext('school-idp:migrations'))`;

async function appliedVersions(tx: Sql): Promise<number[]> {
  await tx.query(`create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`);
  return (await tx.query<{ version: number }>('select version from schema_migrations order by version')).map((r) => r.version);
}

/** Brings the database to this release's schema (or, with dryRun, says what that would apply). */
export async function migrate(db: Database, schema: string, options: { dryRun?: boolean } = {}): Promise<MigrationReport> {
  if (db.kind === 'postgres') {
    await db.query(`create schema if not exists ${quoteIdent(schema)}`).catch((err: { code?: string }) => {
      // Two processes creating it at once: the other one won.
      if (err.code !== '23505' && err.code !== '42P06') throw err;
    });
  }
  return db.transaction(async (tx) => {
    await tx.query(LOCK);
    const done = await appliedVersions(tx);
    const newest = Math.max(0, ...MIGRATIONS.map((m) => m.version));
    const unknown = done.filter((v) => v > newest);
    if (unknown.length) {
      throw new NewerDatabaseError(`the database was migrated by a newer release (schema version ${Math.max(...unknown)}; this release knows up to ${newest}): upgrade this process`);
    }
    const pending = MIGRATIONS.filter((m) => !done.includes(m.version));
    // A dry run keeps nothing: thrown out of the transaction, so even the table created
    // above to read the versions is rolled back.
    if (options.dryRun) throw new DryRun({ applied: pending, version: Math.max(0, ...done) });
    for (const m of pending) {
      for (const statement of statements(m.sql)) await tx.query(statement);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
    }
    return { applied: pending, version: newest };
  }).catch((err: unknown) => {
    if (err instanceof DryRun) return err.report;
    throw err;
  });
}

class DryRun extends Error {
  readonly report: MigrationReport;
  constructor(report: MigrationReport) {
    super('dry run');
    this.report = report;
  }
}

/** A migration's statements, one by one (the drivers' parameterised queries take one each). */
export function statements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}
