// The operators' CLI: the same domain code as /admin, acting with ministry scope as
// "cli:<os user>". Usage: npm run cli -- <command> [arguments]   (see README "Operator CLI")
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { csvFile } from '../domain/csv.ts';
import { ConfigError, loadSettings } from '../config/settings.ts';
import { activateKeys, KEY_KINDS, loadKeyMaterial, retireKeys, rotateKeys, RotationError, type KeyInfo, type KeyKind } from '../config/key-material.ts';
import { loadRelyingParties, parseRelyingParty, relyingPartyId } from '../config/relying-parties.ts';
import { serviceProviderFrom } from '../protocols/saml/service-providers.ts';
import { revokeAccountGrants } from '../protocols/oidc/adapter.ts';
import { normaliseLoginId, type Account } from '../domain/accounts/account.ts';
import { SeedError } from '../domain/accounts/seed.ts';
import type { AdminScope } from '../domain/admin/administration.ts';
import { ImportFileError, ImportInterruptedError } from '../domain/admin/import.ts';
import { AppError } from '../domain/errors.ts';
import { classLabel, isStudentOnly, mayTeach, normaliseClassName, parseClassList, parseYear, schoolYear } from '../domain/classes/classes.ts';
import { systemClock } from '../domain/clock.ts';
import { openStore, StoreUnavailableError, type Store } from '../store/index.ts';
import { createDatabase, migrate, NewerDatabaseError, OutcomeUnknownError } from '../store/database/index.ts';
import { createServices, type Services } from '../services.ts';
import { describeReport, type SignOutReport } from '../domain/sessions/sign-out-report.ts';
import { createLogger } from '../observability/logger.ts';
import { withSimulatedApps } from '../sims/clients.ts';
import { ACCOUNT_USAGE, AccountUsageError, accountCommand } from './accounts.ts';
import { CLIENTS_USAGE, ClientsUsageError, clientsCommand } from './clients.ts';
import { addSamlSp, listRps, removeRp, RPS_USAGE, RpsUsageError, withFetchedMetadata } from './service-providers.ts';
import { BACKUP_COMMANDS, BACKUP_USAGE, backupCommand } from './backup.ts';
import { BackupError } from '../domain/backup/format.ts';
import { PROVISIONING_COMMANDS, PROVISIONING_USAGE, ProvisioningUsageError, provisioningCommand } from './provisioning.ts';
import { ONEROSTER_COMMANDS, ONEROSTER_USAGE, oneRosterCommand } from './oneroster.ts';

const USAGE = `usage: npm run cli -- <command> [arguments]

  import <file.csv> [--commit] [--out passwords.csv]   preview (default) or import a cohort
  reset-password <loginId>                             set a temporary password (printed once)
  unlock <loginId>
  clear-questions <loginId>
  disable <loginId> | enable <loginId>
  set-class <loginId> <class|-> [--year Y]             a student's class ("-": none); this school year by default
  set-form-classes <loginId> <4A;4B|-> [--year Y]      the classes a staff member is form teacher of in that year
  classes [--school CODE]                              classes with students, and their form teachers
  audit [--account <loginId>] [--type <event>] [--count N]
  validate-rp <file.json>                              check a relying-party file
${RPS_USAGE}
${ACCOUNT_USAGE}
${CLIENTS_USAGE}
${PROVISIONING_USAGE}
${ONEROSTER_USAGE}
  keys status                                          every key: use, state, age, expiry (IDP_KEYS_DIR)
  keys rotate oidc|saml|cookie                         add a next key: published (verifies) at once, signs nothing yet
  keys activate oidc|saml|cookie [--now]               next signs from now on; current becomes retiring
  keys retire [oidc|saml|cookie] [--force]             drop retiring keys past their retire-after time
${BACKUP_USAGE}

The stores are those of the server: DATABASE_URL (the directory) and REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES).`;

class UsageError extends Error {}

const MINISTRY: AdminScope = { kind: 'ministry' };

async function account(s: Services, raw: string | undefined): Promise<Account> {
  const loginId = normaliseLoginId(raw ?? '');
  if (!loginId) throw new UsageError(`not a login ID: ${raw ?? '(missing)'}`);
  const found = await s.directory.findByLoginId(loginId);
  if (!found) throw new UsageError(`no account with login ID ${loginId}`);
  return found;
}

/** What ending the account's sessions told its apps, in a few lines. */
function signOutLines(report: SignOutReport): string[] {
  const { told, notTold } = describeReport(report);
  const lines = [`sessions at the MIMS Portal ended: ${report.sessionsEnded}`];
  if (told.length) lines.push(`apps told to sign the user out: ${told.join(', ')}`);
  if (notTold.length) lines.push(`apps NOT told (the user may stay signed in there): ${notTold.map((n) => `${n.name} (${n.why})`).join(', ')}`);
  if (!told.length && !notTold.length) lines.push('no app was signed in with those sessions');
  return lines;
}

/** Commands that end an account's sessions, and so tell its apps (they need the protocols). */
const REVOKING = new Set(['reset-password', 'disable', 'lifecycle', 'import-oneroster']);

export async function run(argv: string[], out: (line: string) => void, open: (command: string) => Promise<{ store: Store; services: Services; rpDirs: string[]; close?: () => Promise<void> }>): Promise<number> {
  if (argv[0] === 'account') return accountCommand(argv.slice(1), out, open);
  if (argv[0] === 'clients' || argv[0] === 'initial-access-token') return clientsCommand(argv[0], argv.slice(1), out, async () => ({ settings: loadSettings(), ...(await open(argv[0]!)) }));
  if (BACKUP_COMMANDS.has(argv[0] ?? '')) return backupCommand(argv, out, open);
  if (PROVISIONING_COMMANDS.has(argv[0] ?? '')) return provisioningCommand(argv, out, open);
  if (ONEROSTER_COMMANDS.has(argv[0] ?? '')) return oneRosterCommand(argv, out, open);
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { now: { type: 'boolean' }, force: { type: 'boolean' }, commit: { type: 'boolean' }, out: { type: 'string' }, account: { type: 'string' }, type: { type: 'string' }, count: { type: 'string' }, year: { type: 'string' }, school: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (!command || values.help) {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'list-rps') return listRps(out, open);
  if (command === 'remove-rp') return removeRp(arg, out, open);
  if (command === 'keys') return keysCommand(positionals.slice(1), { now: values.now === true, force: values.force === true }, out);
  if (command === 'validate-rp' || command === 'add-rp') {
    if (!arg) throw new UsageError(`${command} needs a file`);
    const file = path.resolve(arg);
    const { data: given, metadataUrl } = await withFetchedMetadata(JSON.parse(readFileSync(file, 'utf8')));
    // A SAML SP is registered in the store: every running IdP process uses it, no restart.
    if (command === 'add-rp' && (given as { protocol?: unknown }).protocol === 'saml') return addSamlSp(given, file, metadataUrl, out, open);
    const rp = parseRelyingParty(given, file);
    const id = relyingPartyId(rp);
    if (rp.protocol === 'oidc') {
      out(`${file}: valid oidc client "${id}" (${rp.display_name})`);
    } else {
      const sp = serviceProviderFrom(rp, 80);
      out(`${file}: valid saml service provider "${id}" (${rp.display_name}), entityID ${sp.entityId}, ACS ${sp.acs.map((e) => e.location).join(' ')}`);
    }
    if (command === 'add-rp' && rp.protocol === 'oidc') {
      const { rpDirs } = await open(command);
      // Into IDP_RP_DIR when set (it is the last directory), else config/relying-parties.
      const targetDir = rpDirs[rpDirs.length - 1]!;
      const target = path.join(targetDir, `${id}.json`);
      if (existsSync(target)) throw new UsageError(`${target} already exists`);
      const all = loadRelyingParties(rpDirs);
      const existing = [...all.oidc.map((c) => ({ id: c.client_id, file: c.file })), ...all.saml.map((p) => ({ id: p.id, file: p.file }))].find((r) => r.id === id);
      if (existing) throw new UsageError(`${id} is already defined in ${existing.file}`);
      const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(target, `${JSON.stringify(data, null, 2)}\n`, { flag: 'wx' });
      out(`added as ${target}; restart the IdP to load it`);
    }
    return 0;
  }

  const { store, services: s, close } = await open(command);
  const actor = { id: `cli:${userInfo().username}` } as Account;
  try {
    switch (command) {
      case 'import': {
        if (!arg) throw new UsageError('import needs a CSV file');
        const data = readFileSync(arg);
        const preview = await s.importer.preview(data, MINISTRY);
        for (const r of preview.rows) if (r.action === 'error') out(`line ${r.line} ${r.loginId}: ${r.errors.join('; ')}`);
        const c = preview.counts;
        out(`new ${c.create}, updated ${c.update}, unchanged ${c.unchanged}, errors ${c.error}`);
        if (!values.commit) {
          out(c.error > 0 ? 'fix the errors, then run again with --commit' : 'preview only: run again with --commit to import');
          return c.error > 0 ? 1 : 0;
        }
        if (c.error > 0) return 1;
        if (c.create + c.update === 0) {
          out('nothing to change');
          return 0;
        }
        const give = (passwords: Array<{ loginId: string; temporaryPassword: string }>, what: string) => {
          const csv = csvFile(['loginId', 'temporaryPassword'], passwords.map((p) => [p.loginId, p.temporaryPassword]));
          if (values.out) {
            writeFileSync(values.out, csv, { mode: 0o600, flag: 'wx' });
            out(`${what}; ${passwords.length} temporary password(s) written to ${values.out} (shown nowhere else)`);
          } else {
            out(csv.trimEnd());
          }
        };
        try {
          give((await s.importer.commit(data, MINISTRY, actor.id)).passwords, 'imported');
        } catch (err) {
          if (!(err instanceof ImportInterruptedError)) throw err;
          // The passwords of what was created exist nowhere else: hand them out, then fail.
          give(err.passwords, 'interrupted');
          throw err;
        }
        return 0;
      }
      case 'reset-password': {
        const a = await account(s, arg);
        const { temporaryPassword, signOut } = await s.administration.resetPassword(MINISTRY, actor, a.id, {});
        out(`temporary password for ${a.loginId} (shown once): ${temporaryPassword}`);
        for (const line of signOutLines(signOut)) out(line);
        return 0;
      }
      case 'unlock': {
        const a = await account(s, arg);
        await s.administration.unlock(MINISTRY, actor, a.id, {});
        out(`unlocked ${a.loginId}`);
        return 0;
      }
      case 'clear-questions': {
        const a = await account(s, arg);
        await s.administration.clearQuestions(MINISTRY, actor, a.id, {});
        out(`cleared the security questions of ${a.loginId}`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const a = await account(s, arg);
        const { signOut } = await s.administration.setStatus(MINISTRY, actor, a.id, command === 'disable' ? 'disabled' : 'active', {});
        out(`${command}d ${a.loginId}`);
        if (signOut) for (const line of signOutLines(signOut)) out(line);
        return 0;
      }
      case 'set-class':
      case 'set-form-classes': {
        const a = await account(s, arg);
        const given = positionals[2];
        if (given === undefined) throw new UsageError(`${command} needs a class ("-" for none)`);
        const year = values.year === undefined ? schoolYear(Date.now()) : parseYear(values.year);
        if (year === null) throw new UsageError(`--year: not a year: ${values.year}`);
        if (command === 'set-class' && !isStudentOnly(a)) throw new UsageError(`${a.loginId} is not a student: only students belong to a class (form teachers: set-form-classes)`);
        if (command === 'set-form-classes' && !mayTeach(a)) throw new UsageError(`${a.loginId} is not staff: only staff are form teachers`);
        if (command === 'set-class') {
          const name = given === '-' ? null : normaliseClassName(given);
          if (given !== '-' && name === null) throw new UsageError(`not a class name: ${given} (1 to 20 letters, digits, spaces, . / -)`);
          const updated = await s.administration.setClass(MINISTRY, actor, a.id, name ? { year, name } : null, {});
          out(`${a.loginId}: class ${updated.class ? classLabel(updated.class) : 'none'}`);
        } else {
          const parsed = parseClassList(given === '-' ? '' : given, year);
          if ('invalid' in parsed) throw new UsageError(`not a class name: ${parsed.invalid.join(', ')}`);
          const others = (a.formClasses ?? []).filter((k) => k.year !== year);
          const updated = await s.administration.setFormClasses(MINISTRY, actor, a.id, [...others, ...parsed.classes], {});
          out(`${a.loginId}: form teacher of ${updated.formClasses?.length ? updated.formClasses.map(classLabel).join(', ') : 'no class'}`);
        }
        return 0;
      }
      case 'classes': {
        const scope: AdminScope = values.school ? { kind: 'school', schoolCode: values.school } : MINISTRY;
        const classes = await s.administration.classes(scope);
        for (const k of classes) {
          const { teachers } = await s.administration.classRoster(scope, k.schoolCode, k);
          out(`${k.schoolCode}\t${k.year}\t${k.name}\t${k.students} student(s)\tform teacher(s): ${teachers.map((t) => t.loginId).join(', ') || 'none'}`);
        }
        if (classes.length === 0) out('no classes');
        return 0;
      }
      case 'audit': {
        const target = values.account ? await account(s, values.account) : null;
        const count = Number(values.count ?? 50);
        if (!Number.isInteger(count) || count < 1) throw new UsageError('--count must be a positive integer');
        const events = await s.audit.recent(count, (e) => (!target || e.accountId === target.id) && (!values.type || e.type === values.type));
        for (const e of events) out([e.at, e.type, e.accountId ?? e.loginId ?? '-', e.actor ? `by ${e.actor}` : '', e.reason ?? '', e.ip ?? ''].filter(Boolean).join('  '));
        return 0;
      }
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } finally {
    await close?.();
    await store.close();
  }
}

/** How long a next OIDC or cookie key is published before it may be activated: every process has reloaded by then. */
const PROPAGATION_MS = 60_000;

function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 2 * 86400 ? `${Math.round(s / 86400)} d` : s >= 2 * 3600 ? `${Math.round(s / 3600)} h` : s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`;
  return ms < 0 ? `${text} ago` : text;
}

function describe(k: KeyInfo, now: number): string {
  const l = k.life;
  const parts = [k.kind.padEnd(6), k.id.padEnd(16), k.use.padEnd(15), l.state.padEnd(8), `age ${duration(now - Date.parse(l.created))}`];
  if (l.state === 'next') parts.push(k.kind === 'saml' ? 'in metadata, signs nothing yet' : k.kind === 'oidc' ? 'in JWKS, signs nothing yet' : 'verifies, signs nothing yet');
  if (l.state === 'current') parts.push(`signs${l.activated ? ` since ${l.activated}` : ''}`);
  if (l.state === 'retiring') parts.push(l.retireAfter ? `retire after ${l.retireAfter} (${Date.parse(l.retireAfter) <= now ? 'due now' : `in ${duration(Date.parse(l.retireAfter) - now)}`})` : 'retire at any time');
  if (k.expires !== undefined) parts.push(`expires ${new Date(k.expires).toISOString()} (${k.expires <= now ? 'EXPIRED' : `in ${duration(k.expires - now)}`}${k.expires - now < 30 * 86_400_000 ? ', rotate now' : ''})`);
  return parts.join('  ');
}

/** `keys ...`: works on the key files only (IDP_KEYS_DIR); every IdP process picks changes up within seconds. */
function keysCommand(args: string[], flags: { now: boolean; force: boolean }, out: (line: string) => void): number {
  const settings = loadSettings();
  const dir = settings.keysDir;
  const now = Date.now();
  const [action, kindArg] = args;
  const kindOf = (required: boolean): KeyKind | undefined => {
    if (!kindArg && !required) return undefined;
    if (!KEY_KINDS.includes(kindArg as KeyKind)) throw new UsageError(`keys ${action} needs one of: ${KEY_KINDS.join(', ')}`);
    return kindArg as KeyKind;
  };
  try {
    switch (action) {
      case 'status': {
        for (const k of loadKeyMaterial(dir, { create: false }).keys) out(describe(k, now));
        return 0;
      }
      case 'rotate': {
        const kind = kindOf(true)!;
        const added = rotateKeys(dir, kind, now);
        for (const k of added) out(`added ${describe(k, now)}`);
        const wait = kind === 'saml' ? settings.saml.certificateOverlapHours * 3_600_000 : PROPAGATION_MS;
        out(`next: keys activate ${kind}, at ${new Date(now + wait).toISOString()} or later`);
        return 0;
      }
      case 'activate': {
        const kind = kindOf(true)!;
        const { oidc, sso, saml } = settings;
        // How long the old key stays published or verifying after it stops signing:
        //  oidc: the longest a token it signed may be presented (ID tokens also as id_token_hint at logout, for a session's life)
        //  saml: the overlap, for SPs that cache metadata
        //  cookie: the longest an SSO session (and its cookie) lives
        const hold =
          kind === 'oidc'
            ? Math.max(oidc.idTokenSeconds, oidc.accessTokenSeconds, oidc.clientCredentialsSeconds, oidc.refreshTokenDays * 86400, sso.absoluteHours * 3600) * 1000
            : kind === 'saml'
              ? settings.saml.certificateOverlapHours * 3_600_000
              : sso.absoluteHours * 3_600_000;
        const minPublished = flags.now ? 0 : kind === 'saml' ? settings.saml.certificateOverlapHours * 3_600_000 : PROPAGATION_MS;
        const { activated, retiring } = activateKeys(dir, kind, now, hold, minPublished);
        for (const k of activated) out(`activated ${describe(k, now)}`);
        for (const k of retiring) out(`retiring ${describe(k, now)}`);
        out(`then: keys retire ${kind}, after ${new Date(now + hold).toISOString()}`);
        return 0;
      }
      case 'retire': {
        const kinds = kindArg ? [kindOf(true)!] : KEY_KINDS;
        for (const kind of kinds) {
          const { removed, kept } = retireKeys(dir, kind, now, flags.force);
          for (const k of removed) out(`removed ${describe(k, now)}`);
          for (const k of kept) out(`kept ${describe(k, now)}`);
        }
        return 0;
      }
      default:
        throw new UsageError('keys needs one of: status, rotate, activate, retire');
    }
  } catch (err) {
    if (err instanceof RotationError) throw new UsageError(err.message);
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const open = async (command: string) => {
    const settings = loadSettings();
    if (!settings.database.url) {
      throw new UsageError('no DATABASE_URL configured: the CLI works on the same PostgreSQL and Redis as the server (the embedded database belongs to the one process that runs it)');
    }
    const { store } = await openStore(settings.redis, 5_000);
    if (store.kind === 'memory') {
      await store.close();
      throw new UsageError('no REDIS_URL (or cluster/sentinels) configured: the CLI works on the same PostgreSQL and Redis as the server');
    }
    const database = createDatabase(settings.database);
    // `migrate` says what it does itself; every other command brings the schema up to date first, as the server does.
    if (command !== 'migrate') {
      try {
        await migrate(database, settings.database.schema);
      } catch (err) {
        await Promise.allSettled([store.close(), database.close()]);
        throw err;
      }
    }
    if (!REVOKING.has(command)) {
      // `account set --totp-secret` seals the secret as the server does: with the server's keys (when this machine has them).
      let sealSecret: string | undefined;
      try {
        sealSecret = command === 'account' ? loadKeyMaterial(settings.keysDir, { create: false }).decoyKey : undefined;
      } catch {
        sealSecret = undefined;
      }
      return { store, services: createServices(settings, store, database, systemClock, { revokeGrants: (accountId) => revokeAccountGrants(store, database, accountId), sealSecret }), rpDirs: settings.relyingPartyDirs, close: () => database.close() };
    }
    // The server's IdP (never listening), with its keys and relying parties: sessions this
    // tool ends are told to their apps as the server would (OIDC back-channel, SAML SOAP).
    const { createIdp } = await import('../web/app.ts');
    const keyMaterial = loadKeyMaterial(settings.keysDir);
    const relyingParties = loadRelyingParties(settings.relyingPartyDirs);
    withSimulatedApps(settings, relyingParties);
    const idp = createIdp({
      settings, store, database, clock: systemClock, relyingParties, keyMaterial,
      // Its warnings on stderr (an app that did not answer); the outcome is printed anyway.
      logger: createLogger(settings.log.level === 'debug' ? 'debug' : 'warn', process.stderr),
    });
    return { store, services: idp, rpDirs: settings.relyingPartyDirs, close: async () => { await idp.close(); await database.close(); } };
  };
  run(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`), open)
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      process.stderr.write(`${oneLine(err)}\n`);
      process.exit(err instanceof UsageError || err instanceof AccountUsageError || err instanceof ClientsUsageError || err instanceof RpsUsageError || err instanceof ProvisioningUsageError ? 2 : 1);
    });
}

/** What went wrong and what to do, in one line; the stack only with LOG_LEVEL=debug. */
function oneLine(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  if (e instanceof UsageError || e instanceof AccountUsageError || e instanceof ClientsUsageError || e instanceof RpsUsageError || e instanceof ProvisioningUsageError || e instanceof SeedError || e instanceof ConfigError || e instanceof ImportFileError || e instanceof AppError || e instanceof BackupError) return e.message;
  if (e instanceof ImportInterruptedError) return `import ${e.message}`;
  if (e instanceof NewerDatabaseError) return e.message;
  if (e instanceof OutcomeUnknownError) return `not confirmed: ${e.message}; check with the same command (or audit) before running it again`;
  if (e instanceof StoreUnavailableError) {
    return `cannot reach the store or the database (${e.message}): check DATABASE_URL and REDIS_URL / REDIS_SENTINELS / REDIS_CLUSTER_NODES and that both are up, then run the command again`;
  }
  if (e instanceof SyntaxError) return `not valid JSON: ${e.message}`;
  if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EEXIST' || (e as NodeJS.ErrnoException).code === 'EACCES') return e.message;
  return process.env.LOG_LEVEL === 'debug' ? (e.stack ?? e.message) : `failed: ${e.message} (LOG_LEVEL=debug shows the stack trace)`;
}
