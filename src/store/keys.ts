// Every Redis key name the IdP uses, in one place. Keys that one operation touches
// together share a hash tag ({...}) so that they live in one Cluster slot.
// Ephemeral keys are always written with a TTL by their owners; durable ones are marked.

export const keys = {
  /** durable: one account as JSON */
  account: (id: string) => `{acct:${id}}`,
  /** durable: login ID (lower-cased) -> account id; SET NX makes login IDs unique */
  loginId: (loginId: string) => `{login:${loginId}}`,
  /** durable: lexicographic index of "loginid\u0000accountId" for prefix search */
  directoryIndex: () => 'dir:logins',
  /** durable: lexicographic index of "display name\u0000accountId" (lower-cased) */
  nameIndex: () => 'dir:names',
  /** durable: the schema version of login-ID claims and both indexes, as JSON (src/domain/versions.ts) */
  directoryLayout: () => 'dir:layout',
  /**
   * durable: lexicographic index of "name from one of its parts on\u0000accountId" (lower-cased;
   * "allen tan" and "tan" for Allen Tan), one per school code and one for all schools ("*"):
   * a surname search is one range read in the administrator's own school.
   */
  namePartIndex: (schoolCode: string) => `dir:nameparts:${schoolCode}`,
  /** durable: set when every account before the name-part index had its entries written */
  namePartIndexBuilt: () => 'dir:nameparts:built',
  /** ephemeral: consecutive failed sign-ins for one login ID (known or not) */
  signInFailures: (loginId: string) => `{login:${loginId}}:fails`,
  /** the lock of a login ID: durable until unlocked, or with the configured expiry */
  lock: (loginId: string) => `{login:${loginId}}:locked`,
  /** ephemeral: failed sign-ins from one client IP, across accounts (password spraying) */
  ipSignInFailures: (ip: string) => `ip:{${ip}}:fails`,
  /** ephemeral: wrong challenge-answer sets for a login ID, from one IP and from all */
  answerFailures: (loginId: string, ip?: string) => (ip ? `{login:${loginId}}:answers:${ip}` : `{login:${loginId}}:answers`),
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
  /** ephemeral: an oidc-provider artefact */
  oidc: (model: string, id: string) => `oidc:${model}:{${id}}`,
  /** durable: ids of the OIDC clients registered over HTTP (RFC 7591); their metadata is under oidc('Client', ...) */
  oidcRegisteredClients: () => 'oidc:registered-clients',
  /** durable: the SAML service providers registered in the store (cli add-rp): members "<entity digest>.<revision>" */
  samlRegisteredSps: () => 'saml:registered-sps',
  /** durable: one registered SAML SP (JSON with its metadata), by a digest of its entityID (SET NX: one per entityID) */
  samlRegisteredSp: (entityDigest: string) => `saml:sp:{${entityDigest}}`,
  /** durable: a registered SAML SP's short id (URLs, logs) -> its entity digest (SET NX: ids unique) */
  samlRegisteredSpId: (id: string) => `saml:sp-id:{${id}}`,
  /** ephemeral: ids of the artefacts issued under one grant */
  oidcGrant: (grantId: string) => `oidc:grant:{${grantId}}`,
  /** ephemeral: session uid or user code -> artefact id */
  oidcLookup: (kind: 'uid' | 'userCode', value: string) => `oidc:${kind}:{${value}}`,
  /** ephemeral: an uploaded import file between preview and commit */
  pendingImport: (id: string) => `{import:${id}}`,
  /** durable: progress of a data migration over the directory (README "Upgrading") */
  migration: (name: string) => `{migration:${name}}`,
  /** durable: a passkey's credential id (hashed) -> account id, for signing in with a passkey alone */
  passkey: (credentialIdHash: string) => `{passkey:${credentialIdHash}}`,
  /** ephemeral: wrong second-factor codes of an account within the window */
  mfaFailures: (accountId: string) => `{acct:${accountId}}:mfa-fails`,
  /** durable: capped stream of audit events */
  audit: () => 'audit',
} as const;

// The durable keys above (the directory, locks, audit, migration progress, and OIDC clients
// registered over HTTP with their registration tokens, SAML SPs registered by the CLI), as patterns: writes to them are
// confirmed by replicas before they resolve (RedisStore), everything else is ephemeral.
const DURABLE = /^(?:\{acct:[^}]*\}|\{passkey:[^}]*\}|\{login:[^}]*\}(?::locked)?|\{migration:[^}]*\}|dir:logins|dir:names|dir:layout|dir:nameparts:.+|audit|oidc:registered-clients|saml:registered-sps|saml:sp(?:-id)?:\{[^}]*\}|oidc:(?:Client|RegistrationAccessToken):\{[^}]*\})$/;

/** Whether `key` (as built above, without the store's prefix) holds durable data. */
export function isDurableKey(key: string): boolean {
  return DURABLE.test(key);
}
