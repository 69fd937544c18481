// The composition root of the domain: every service the web app and the admin CLI share,
// built from settings, a store and a clock. No HTTP here.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot, type Settings } from './config/settings.ts';
import { Authenticator } from './domain/accounts/authentication.ts';
import { Credentials, type SessionRevoker } from './domain/accounts/credentials.ts';
import { Directory } from './domain/accounts/directory.ts';
import { SecretHasher } from './domain/accounts/passwords.ts';
import { Administration } from './domain/admin/administration.ts';
import { AuditLog } from './domain/audit/audit-log.ts';
import { Badges } from './domain/badges/badges.ts';
import { Importer } from './domain/admin/import.ts';
import type { Clock } from './domain/clock.ts';
import { parseWordList } from './domain/passwords/generate.ts';
import { parseCommonPasswords, PasswordPolicies } from './domain/passwords/policy.ts';
import { AnswerLimiter, Lockout } from './domain/security/lockout.ts';
import { Spraying } from './domain/security/spraying.ts';
import { sessionGate, type Gate } from './domain/sessions/gate.ts';
import { mergeNotices, type TellRelyingParties } from './domain/sessions/sign-out-report.ts';
import { SsoSessions } from './domain/sessions/sso-sessions.ts';
import { hasSecondFactor } from './domain/mfa/factors.ts';
import { Mfa } from './domain/mfa/mfa.ts';
import { MfaPolicy } from './domain/mfa/policy.ts';
import { SecretSeal } from './domain/mfa/seal.ts';
import { RecoveryCodes } from './domain/recovery/codes.ts';
import { RecoveryEmails, type SendRecoveryMail } from './domain/recovery/recovery-email.ts';
import { ProvisioningClients } from './domain/provisioning/clients.ts';
import { Lifecycle } from './domain/provisioning/lifecycle.ts';
import { Roster } from './domain/provisioning/roster.ts';
import { ProvisioningRows } from './store/directory/provisioning.ts';
import { AppReleases } from './domain/privacy/releases.ts';
import { ReleaseRows } from './store/directory/app-releases.ts';
import type { Store } from './store/index.ts';
import type { Database } from './store/database/index.ts';

export interface Services {
  /** The directory's database (accounts, factors, audit, registered apps). */
  database: Database;
  directory: Directory;
  hasher: SecretHasher;
  audit: AuditLog;
  lockout: Lockout;
  /** The spraying alarm: failed accounts a minute from unknown devices, and the budget while it is on. */
  spraying: Spraying;
  answerLimiter: AnswerLimiter;
  authenticator: Authenticator;
  sso: SsoSessions;
  /** May an SSO session proceed, or what must happen first (one gate for every entry point). */
  gate: Gate;
  policies: PasswordPolicies;
  credentials: Credentials;
  administration: Administration;
  importer: Importer;
  /** Second factors: passkeys, authenticator app, recovery codes (staff MFA). */
  mfa: Mfa;
  /** The recovery email: its rules and notifications, and its codes. */
  recoveryEmails: RecoveryEmails;
  recoveryCodes: RecoveryCodes;
  /** Sign-in badges for the youngest pupils (printing, voiding, scans and PINs). */
  badges: Badges;
  /** Accounts following a roster: join, move, leave (SCIM, OneRoster, the lifecycle). */
  roster: Roster;
  /** The roster's scheduled steps: moves and leaves at their date, deletion after retention, dormant accounts. */
  lifecycle: Lifecycle;
  /** SCIM clients: tokens and the schools each may change. */
  provisioningClients: ProvisioningClients;
  /** Provisioning's tables (classes, externalIds, lifecycle queries). */
  provisioningRows: ProvisioningRows;
  /** What each app may receive, as the ministry and each school chose. */
  releases: AppReleases;
}

let commonPasswords: Set<string> | undefined;
/** The shipped list of refused passwords (config/common-passwords.txt), read once. */
function commonPasswordList(): Set<string> {
  commonPasswords ??= parseCommonPasswords(readFileSync(path.join(projectRoot, 'config/common-passwords.txt'), 'utf8'));
  return commonPasswords;
}

let temporaryWords: string[] | undefined;
/** The curated words of readable temporary passwords (config/temporary-password-words.txt), read once. */
export function temporaryPasswordWords(): string[] {
  temporaryWords ??= parseWordList(readFileSync(path.join(projectRoot, 'config/temporary-password-words.txt'), 'utf8'));
  return temporaryWords;
}

export interface ServiceHooks {
  /**
   * Tells the relying parties of sessions ended without a browser (OIDC back-channel
   * logout, SAML SOAP LogoutRequests); given by the protocols (web/app.ts). Without it,
   * every relying party of those sessions is reported as not told.
   */
  tellRelyingParties?: TellRelyingParties;
  /**
   * Revokes the account's OIDC grants (and their tokens), returning how many; given by the
   * OIDC protocol through the composition root (web/app.ts, cli/main.ts). Without it, none.
   */
  revokeGrants?: (accountId: string) => Promise<number>;
  /**
   * Secret key material for sealing second-factor secrets (TOTP) and hashing recovery codes:
   * the deployment's keys (web/app.ts). Without it (CLI commands that do not touch them),
   * checking or enrolling such a factor fails; resets and removals work.
   */
  sealSecret?: string;
  /** The spraying alarm of a scope ('all' or a school's code) went on (metrics). */
  onSprayingAlarm?: (scope: string) => void;
  /**
   * Sends the recovery email's messages (src/mail/, given by web/app.ts). Without it, no
   * mail can be sent and no recovery email is offered.
   */
  sendRecoveryMail?: SendRecoveryMail;
}

/** Without the protocols: nobody can be told; each participant is named as not told. */
const tellNobody: TellRelyingParties = async ({ ended }) =>
  ended.flatMap((e) => [
    ...e.participants.oidc.map((id) => ({ protocol: 'oidc' as const, id, name: id, outcome: 'cannot-tell' as const, detail: 'no back-channel logout in this process' })),
    ...e.participants.saml.map((p) => ({ protocol: 'saml' as const, id: p.spId, name: p.spId, outcome: 'cannot-tell' as const, detail: 'no back-channel logout in this process' })),
  ]);

export function createServices(settings: Settings, store: Store, database: Database, clock: Clock, hooks: ServiceHooks = {}): Services {
  const directory = new Directory(database, clock);
  const hasher = new SecretHasher(settings.argon2);
  const audit = new AuditLog(database, clock, settings.audit.maxEvents);
  const lockout = new Lockout(store, clock, settings.lockout);
  const answerLimiter = new AnswerLimiter(store, settings.forgotPassword);
  const spraying = new Spraying(store, clock, settings.spraying, async (scope, rate, threshold) => {
    hooks.onSprayingAlarm?.(scope);
    await audit.record({ type: 'security.spraying', actor: 'idp', reason: `${scope === 'all' ? 'all schools' : scope === 'unknown-ids' ? 'login IDs that are no account\'s' : `school ${scope}`}: ${rate} accounts failed in a minute from unknown devices (alarm at ${threshold}); unknown devices held to ${settings.spraying.budgetPerMinute} password checks a minute for ${settings.spraying.holdMinutes} min` });
  });
  const authenticator = new Authenticator(directory, hasher, audit, clock, lockout, spraying);
  const sso = new SsoSessions(store, clock, settings.sso.idleMinutes * 60_000, settings.sso.absoluteHours * 3_600_000);
  const policies = new PasswordPolicies(settings.passwordPolicy.default, settings.passwordPolicy.populations, commonPasswordList(), {
    formats: settings.passwordPolicy.temporaryPasswords,
    words: temporaryPasswordWords(),
    lifeDays: settings.passwordPolicy.temporaryPasswordDays,
  });
  const revoker: SessionRevoker = {
    async revokeAccount(accountId, { exceptSsoSession, actor, ip, requestId }) {
      const ended = await sso.endAllFor(accountId, exceptSsoSession);
      const grants = hooks.revokeGrants ? await hooks.revokeGrants(accountId) : 0;
      // Ended first, then told: an app that asks the IdP again finds nothing to resume.
      const kept = exceptSsoSession ? await sso.participants(exceptSsoSession) : null;
      const tell = hooks.tellRelyingParties ?? tellNobody;
      const notices = mergeNotices(await tell({ accountId, ended, kept, actor, ip, requestId }));
      const sessionsEnded = ended.filter((e) => e.live).length;
      const told = notices.filter((n) => n.outcome === 'told').length;
      await audit.record({ type: 'sessions.revoked', accountId, actor, ip, requestId, reason: `${sessionsEnded} sso sessions, ${grants} oidc grants; apps told ${told}, not told ${notices.length - told}` });
      return { sessionsEnded, notices };
    },
  };
  const mfaPolicy = new MfaPolicy(settings.mfa);
  const credentials = new Credentials({ directory, hasher, audit, policies, revoker, clock, lockout, mfaRequired: (account) => mfaPolicy.required(account) });
  const badges = new Badges({ database, directory, audit, clock, lockout, settings: settings.badges, seal: hooks.sealSecret ? new SecretSeal(hooks.sealSecret, 'badge') : SecretSeal.unavailable(), secondStep: (account) => hasSecondFactor(account) || mfaPolicy.required(account) });
  const administration = new Administration({ directory, credentials, policies, audit, revoker, clock, formTeacherPasswords: settings.admin.formTeacherPasswords, badges });
  const publicUrl = new URL(settings.server.publicUrl);
  const mfa = new Mfa({
    directory, store, audit, clock, policy: mfaPolicy,
    seal: hooks.sealSecret ? new SecretSeal(hooks.sealSecret, 'mfa') : SecretSeal.unavailable(),
    webauthn: { rpName: 'MIMS Portal', rpId: publicUrl.hostname, origin: publicUrl.origin },
  });
  const gate = sessionGate({
    account: (id) => directory.get(id), requiredActions: (account) => credentials.requiredActions(account), hasSecondFactor,
    noticeDue: (account, appKey) => account.roles.some((r) => settings.privacy.noticeRoles.includes(r)) && !(account.appsNoticed ?? []).includes(appKey),
  });
  const importer = new Importer({ directory, importHasher: new SecretHasher(settings.import.argon2), policies, audit, settings: settings.import, now: clock });
  const recoveryEmails = new RecoveryEmails({ directory, audit, clock, settings: settings.recoveryEmail, send: hooks.sendRecoveryMail ?? (() => {}), available: hooks.sendRecoveryMail !== undefined });
  const recoveryCodes = new RecoveryCodes(store, clock, hooks.sealSecret ?? randomBytes(32).toString('base64url'), settings.recoveryEmail);
  const provisioningRows = new ProvisioningRows(database);
  const roster = new Roster({ directory, rows: provisioningRows, audit, revoker, clock, hasher, settings: settings.lifecycle });
  const lifecycle = new Lifecycle({
    roster, rows: provisioningRows, directory, audit, clock,
    notifyDormant: (account) => {
      if (account.recoveryEmail) recoveryEmails.notify(account.recoveryEmail.address, 'account-dormant', account.language ?? 'en', { name: account.givenName });
    },
  });
  const provisioningClients = new ProvisioningClients({ rows: provisioningRows, audit, clock });
  const releases = new AppReleases({ rows: new ReleaseRows(database), audit, clock });
  return { database, directory, hasher, audit, lockout, spraying, answerLimiter, authenticator, sso, gate, policies, credentials, administration, importer, mfa, recoveryEmails, recoveryCodes, badges, roster, lifecycle, provisioningClients, provisioningRows, releases };
}
