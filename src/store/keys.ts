// Every Redis key name the IdP uses, in one place. Keys that one operation touches
// together share a hash tag ({...}) so that they live in one Cluster slot.
// Redis keeps only what may be lost (the directory is in the database, store/database/):
// every key is written with a TTL by its owner, except a lock without expiry (until an
// administrator unlocks it; a lost lock costs at most lockout.maxFailures more guesses).
// The keys marked "legacy" are those of the releases that kept the directory in Redis: this
// release only reads them, in `cli migrate-directory` (domain/migrations/migrate-directory.ts).

export const keys = {
  /** legacy: one account as JSON */
  account: (id: string) => `{acct:${id}}`,
  /** legacy: login ID (lower-cased) -> account id (the hash tag of the lock and counters below) */
  loginId: (loginId: string) => `{login:${loginId}}`,
  /** legacy: lexicographic index of "loginid\u0000accountId" */
  directoryIndex: () => 'dir:logins',
  /** legacy: lexicographic index of "display name\u0000accountId" (lower-cased) */
  nameIndex: () => 'dir:names',
  /** ephemeral: consecutive failed sign-ins for one login ID (known or not) */
  signInFailures: (loginId: string) => `{login:${loginId}}:fails`,
  /** ephemeral: failed sign-ins for one login ID from browsers that signed in to it before (device cookies) */
  knownDeviceFailures: (loginId: string) => `{login:${loginId}}:fails:known`,
  /** ephemeral: spraying: failed sign-ins against distinct accounts from unknown devices in one minute or hour, per scope ('all' or a school) */
  sprayFailures: (scope: string, bucket: string) => `spray:{${scope}}:${bucket}`,
  /** ephemeral: a login ID signed in from an unknown device in the last 10 minutes (counted once as an account that got in) */
  spraySucceeded: (loginId: string) => `{login:${loginId}}:spray-ok`,
  /** ephemeral: the spraying alarm of a scope is on (until it expires) */
  sprayAlarm: (scope: string) => `spray:{${scope}}:alarm`,
  /** ephemeral: password checks granted to unknown devices in one minute while the alarm is on */
  sprayAdmitted: (scope: string, minute: string) => `spray:{${scope}}:admitted:${minute}`,
  /** the lock of a login ID: until unlocked, or with the configured expiry (the only key without a TTL) */
  lock: (loginId: string) => `{login:${loginId}}:locked`,
  /** ephemeral: failed sign-ins from one client IP, across accounts (password spraying) */
  ipSignInFailures: (ip: string) => `ip:{${ip}}:fails`,
  /** ephemeral: scans from one client IP that named no sign-in badge (kept apart from wrong passwords) */
  ipBadgeMisses: (ip: string) => `ip:{${ip}}:badge-misses`,
  /** ephemeral: wrong challenge-answer sets for a login ID, from one IP and from all */
  answerFailures: (loginId: string, ip?: string) => (ip ? `{login:${loginId}}:answers:${ip}` : `{login:${loginId}}:answers`),
  /** ephemeral: protocol requests (OIDC authorization, SAML AuthnRequest, logout) started by browsers without a session from one client IP */
  ipProtocolStarts: (ip: string) => `ip:{${ip}}:starts`,
  /** ephemeral: wrong challenge-answer sets from one client IP, across accounts */
  ipAnswerFailures: (ip: string) => `ip:{${ip}}:answers`,
  /** ephemeral: ids of an account's SSO sessions (for revocation) */
  accountSsoSessions: (accountId: string) => `{acct:${accountId}}:sso`,
  /** ephemeral: ids of an account's OIDC grants (for revocation) */
  accountGrants: (accountId: string) => `{acct:${accountId}}:grants`,
  /** ephemeral: an SSO session */
  ssoSession: (id: string) => `{sso:${id}}`,
  /** ephemeral: the SAML service providers an SSO session signed in to (hash: sp id -> JSON) */
  ssoParticipants: (id: string) => `{sso:${id}}:sp`,
  /** ephemeral: uids of the oidc-provider sessions that signed in with an SSO session (back-channel logout) */
  ssoOidcSessions: (id: string) => `{sso:${id}}:oidc`,
  /** ephemeral: what an administrator's action told the apps, shown on the page after its redirect */
  adminSignOutReport: (id: string) => `{adminso:${id}}`,
  /** ephemeral: a SAML sign-in request waiting for its user (between /saml/sso and the response) */
  samlPending: (id: string) => `{samlreq:${id}}`,
  /** ephemeral: an inbound SAML request ID seen from one SP (replay protection) */
  samlSeenRequest: (spTag: string, requestId: string) => `saml:seen:{${spTag}}:${requestId}`,
  /** ephemeral: a single-logout in progress (front-channel LogoutRequests to SPs, one by one) */
  logoutChain: (id: string) => `{logout:${id}}`,
  /** ephemeral: a checked LogoutRequest from an SP, between its POST and the GET that acts on it */
  samlLogoutRequest: (id: string) => `{samlslo:${id}}`,
  /** ephemeral: one self-service flow */
  flow: (id: string) => `{flow:${id}}`,
  /** ephemeral: that a flow finished (what it did), so that Back to its page says so */
  flowDone: (id: string) => `{flow:${id}}:done`,
  /** ephemeral: this browser gave this account's password to the SSPR app a moment ago */
  ssprReauth: (accountId: string, binding: string) => `{sspr:${accountId}}:${binding}`,
  /** ephemeral: the one live recovery-email code of an account for a purpose (confirm an address, reset): its HMAC, expiry, flow and tries */
  recoveryCode: (purpose: string, accountId: string) => `{acct:${accountId}}:recovery-code:${purpose}`,
  /** ephemeral: recovery-email codes asked for a login ID (known or not), and from one client IP */
  recoverySends: (purpose: string, loginId: string) => `{login:${loginId}}:recovery-sends:${purpose}`,
  ipRecoverySends: (ip: string) => `ip:{${ip}}:recovery-sends`,
  /** ephemeral: an oidc-provider artefact */
  oidc: (model: string, id: string) => `oidc:${model}:{${id}}`,
  /** legacy: ids of the OIDC clients registered over HTTP (RFC 7591); their metadata under oidc('Client', ...) */
  oidcRegisteredClients: () => 'oidc:registered-clients',
  /** legacy: the SAML service providers added with add-rp: members "<entity digest>.<revision>" */
  samlRegisteredSps: () => 'saml:registered-sps',
  /** legacy: one registered SAML SP (JSON with its metadata), by a digest of its entityID */
  samlRegisteredSp: (entityDigest: string) => `saml:sp:{${entityDigest}}`,
  /** ephemeral: ids of the artefacts issued under one grant */
  oidcGrant: (grantId: string) => `oidc:grant:{${grantId}}`,
  /** ephemeral: session uid or user code -> artefact id */
  oidcLookup: (kind: 'uid' | 'userCode', value: string) => `oidc:${kind}:{${value}}`,
  /** ephemeral: an uploaded import file between preview and commit */
  pendingImport: (id: string) => `{import:${id}}`,
  /** ephemeral: one change of a SCIM resource at a time (protocols/scim/lock.ts), a few seconds */
  scimLock: (resource: string) => `scim:lock:{${resource}}`,
  /** ephemeral: the process running the roster lifecycle this period (server.ts), for one period */
  lifecycleLease: () => 'lifecycle:lease',
  /** ephemeral: the OneRoster import that runs now (one at a time), renewed while it runs */
  oneRosterJob: () => 'oneroster:job',
  /** ephemeral: wrong second-factor codes of an account within the window */
  mfaFailures: (accountId: string) => `{acct:${accountId}}:mfa-fails`,
  /** legacy: capped stream of audit events */
  audit: () => 'audit',
} as const;

// Locks, as patterns: a write to one is confirmed by replicas before it resolves when
// redis.waitReplicas asks for it (RedisStore); everything else is written without waiting.
const DURABLE = /^\{login:[^}]*\}:locked$/;

/** Whether `key` (as built above, without the store's prefix) is a lock (the writes RedisStore confirms with WAIT). */
export function isDurableKey(key: string): boolean {
  return DURABLE.test(key);
}
