// Typed, validated configuration. Sources, later ones winning:
//   config/default.json, config/local.json (optional), the file named by IDP_CONFIG_FILE,
//   then the environment variables listed in ENVIRONMENT below.
// A bad value stops start-up with an error that names the key and what is wrong.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The folder holding package.json, views/ and config/: the repository, or the installed package (which runs compiled JavaScript from dist/). */
export const projectRoot = ((start: string): string => {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
})(path.dirname(path.dirname(fileURLToPath(import.meta.url))));

const level = z.enum(['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'S1', 'S2', 'S3', 'S4', 'S5', 'JC1', 'JC2']);
const url = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));

const appSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  name: z.string().min(1),
  description: z.string().default(''),
  url: z.string().min(1),
  roles: z.array(z.string()).default([]),
  levels: z.array(level).default([]),
});

const passwordRules = z.strictObject({
  minLength: z.number().int().min(8).max(128),
  maxLength: z.number().int().min(16).max(1024),
  firstCharNotSymbol: z.boolean(),
  minCharTypes: z.number().int().min(0).max(4),
  noNameParts: z.boolean(),
  namePartMinLength: z.number().int().min(2).max(10),
  historyLength: z.number().int().min(0).max(24),
  refuseCommon: z.boolean(),
  maxAgeDays: z.number().int().positive().nullable(),
});

export const settingsSchema = z.strictObject({
  server: z.strictObject({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    publicUrl: url,
    trustProxy: z.boolean(),
    /**
     * Reverse proxies in front of the IdP that append to X-Forwarded-For (with trustProxy): the
     * client's address is the one the farthest of them saw (that many entries from the right).
     * Entries further left were written by the client and are never believed.
     */
    proxyHops: z.coerce.number().int().min(1).max(10).default(1),
    /** Time a client has to send the request headers (slowloris). */
    headersTimeoutMs: z.coerce.number().int().min(1000).default(10_000),
    /** Time a client has to send the whole request. */
    requestTimeoutMs: z.coerce.number().int().min(1000).default(30_000),
    /** Idle keep-alive connections are closed after this; keep it above your load balancer's idle timeout. */
    keepAliveTimeoutMs: z.coerce.number().int().min(1000).default(65_000),
    /**
     * IdP processes sharing the port (Node's cluster module): a number, or "auto" for one per
     * core. More than one needs Redis and PostgreSQL. Unset: "auto" when both are servers
     * (REDIS_URL or Sentinel or Cluster, and DATABASE_URL) outside demo mode, else 1 (the
     * embedded stores, and demo mode's mailbox, live inside one process).
     */
    workers: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).optional(),
    /**
     * Bearer token /metrics asks for (IDP_METRICS_TOKEN). Without one, /metrics answers only
     * clients on this machine (loopback, and no proxy between).
     */
    metricsToken: z.string().min(16, 'use at least 16 characters').optional(),
  }),
  redis: z.strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
    clusterNodes: z.array(z.string().regex(/^[^:]+:\d+$/, 'each node must be host:port')).default([]),
    sentinels: z.array(z.string().regex(/^[^:]+:\d+$/, 'each sentinel must be host:port')).default([]),
    sentinelName: z.string().optional(),
    keyPrefix: z.string().regex(/^[a-z0-9:_-]*$/i).default('idp:'),
    /** Replicas that must acknowledge a lock's write (WAIT); auto = 0: Redis holds only what may be lost. */
    waitReplicas: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(10)]).default('auto'),
    waitTimeoutMs: z.coerce.number().int().min(50).max(30_000).default(1_000),
  }),
  /** The directory (accounts, factors, audit, registered apps): a PostgreSQL server, or the embedded one. */
  database: z.strictObject({
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL name (letters, digits, _)').default('public'),
    /** The embedded database's folder, used without url (relative to the project). */
    dataDir: z.string().min(1).default('data'),
  }).default({ schema: 'public', dataDir: 'data' }),
  keysDir: z.string().min(1),
  relyingPartyDirs: z.array(z.string()).min(1),
  seed: z.strictObject({
    demo: z.boolean(),
    file: z.string().optional(),
    /** The demo accounts' passwords are public: serving them beyond loopback needs this set on purpose. */
    demoOnNetwork: z.boolean().default(false),
  }),
  argon2: z.strictObject({
    memoryCost: z.coerce.number().int().min(8192),
    timeCost: z.coerce.number().int().min(1).max(20),
    parallelism: z.coerce.number().int().min(1).max(16),
  }),
  sso: z.strictObject({
    idleMinutes: z.coerce.number().positive(),
    absoluteHours: z.coerce.number().positive(),
  }),
  flow: z.strictObject({
    idleSeconds: z.coerce.number().int().min(5).max(3600),
    /** A flow ends this long after it began, however active (a sign-in page left open all day). */
    maxMinutes: z.coerce.number().int().min(1).max(24 * 60).default(30),
  }),
  oidc: z.strictObject({
    accessTokenSeconds: z.coerce.number().int().min(30),
    idTokenSeconds: z.coerce.number().int().min(30),
    authorizationCodeSeconds: z.coerce.number().int().min(10).max(600),
    refreshTokenDays: z.coerce.number().positive(),
    clientCredentialsSeconds: z.coerce.number().int().min(30),
  }),
  audit: z.strictObject({
    maxEvents: z.coerce.number().int().min(100),
  }),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  challenge: z.strictObject({
    catalogue: z.array(z.string().trim().min(5).max(200)).min(3),
    setupCount: z.coerce.number().int().min(1).max(10),
    answerMinLength: z.coerce.number().int().min(1),
    answerMaxLength: z.coerce.number().int().max(1000),
  }).refine((c) => c.setupCount <= c.catalogue.length, { message: 'setupCount cannot exceed the number of questions in catalogue', path: ['setupCount'] })
    .refine((c) => c.answerMinLength <= c.answerMaxLength, { message: 'answerMinLength cannot exceed answerMaxLength', path: ['answerMinLength'] })
    .refine((c) => new Set(c.catalogue).size === c.catalogue.length, { message: 'questions must be different', path: ['catalogue'] }),
  lockout: z.strictObject({
    maxFailures: z.coerce.number().int().min(1).max(100),
    windowMinutes: z.coerce.number().positive(),
    lockMinutes: z.coerce.number().positive().nullable(),
    maxFailuresPerIp: z.coerce.number().int().min(1),
    ipWindowMinutes: z.coerce.number().positive(),
  }),
  /** Device cookies (security/devices.ts): the browsers that signed in to a login ID before. */
  devices: z.strictObject({
    maxEntries: z.coerce.number().int().min(1).max(100),
    maxAgeDays: z.coerce.number().int().min(1).max(3650),
  }),
  /** The spraying alarm (security/spraying.ts): failed accounts a minute from unknown devices. */
  spraying: z.strictObject({
    floorPerMinute: z.coerce.number().int().min(1),
    schoolFloorPerMinute: z.coerce.number().int().min(1),
    factor: z.coerce.number().min(1),
    budgetPerMinute: z.coerce.number().int().min(0),
    holdMinutes: z.coerce.number().positive(),
  }),
  /** Protocol requests browsers without a session may start from one address (security/strangers.ts). */
  strangers: z.strictObject({
    perIp: z.coerce.number().int().min(1),
    windowMinutes: z.coerce.number().positive(),
  }),
  /** Admission control in front of password checks (security/admission.ts). */
  admission: z.strictObject({
    /** Password actions at once; 0: as many as the machine has cores. */
    concurrency: z.coerce.number().int().min(0).max(256),
    /** Password actions waiting beyond those; more are answered 503 with Retry-After. */
    queue: z.coerce.number().int().min(0),
    /** A waiting action that did not start within this is answered 503 too. */
    maxWaitSeconds: z.coerce.number().positive(),
  }),
  forgotPassword: z.strictObject({
    askCount: z.coerce.number().int().min(1).nullable(),
    revealNoQuestions: z.boolean(),
    maxFailuresPerAccountPerIp: z.coerce.number().int().min(1),
    maxFailuresPerAccount: z.coerce.number().int().min(1),
    maxFailuresPerIp: z.coerce.number().int().min(1),
    windowMinutes: z.coerce.number().positive(),
  }),
  /** Outbound mail (src/mail/): SMTP, or the embedded mailbox of demo mode without SMTP_URL. */
  mail: z.strictObject({
    /** smtp://host:25, smtp://user:pass@host:587 (STARTTLS when offered), smtps://user:pass@host:465 (SMTP_URL). */
    smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
    /** The From of every message (MAIL_FROM). */
    from: z.string().min(3).default('MIMS Portal <no-reply@localhost>'),
    /** Tries in all for one message, and the pause before the first retry (doubled each time). */
    attempts: z.coerce.number().int().min(1).max(20).default(5),
    backoffMs: z.coerce.number().int().min(10).max(600_000).default(5_000),
    /** Messages the demo mailbox keeps (/dev/mail). */
    mailboxSize: z.coerce.number().int().min(1).max(10_000).default(200),
  }).default({ from: 'MIMS Portal <no-reply@localhost>', attempts: 5, backoffMs: 5_000, mailboxSize: 200 }),
  /** The recovery email (domain/recovery/): who is offered one, code life, throttles. */
  recoveryEmail: z.strictObject({
    offer: z.strictObject({ students: z.boolean(), staff: z.boolean() }).default({ students: true, staff: true }),
    codeMinutes: z.coerce.number().int().min(1).max(60).default(10),
    maxConfirmTries: z.coerce.number().int().min(1).max(20).default(5),
    maxSendsPerAccount: z.coerce.number().int().min(1).default(5),
    maxSendsPerIp: z.coerce.number().int().min(1).default(30),
    sendWindowMinutes: z.coerce.number().positive().default(60),
  }).default({ offer: { students: true, staff: true }, codeMinutes: 10, maxConfirmTries: 5, maxSendsPerAccount: 5, maxSendsPerIp: 30, sendWindowMinutes: 60 }),
  import: z.strictObject({
    domainsByRole: z.record(z.string(), z.array(z.string().toLowerCase())),
    argon2: z.strictObject({
      memoryCost: z.coerce.number().int().min(8192),
      timeCost: z.coerce.number().int().min(1).max(20),
      parallelism: z.coerce.number().int().min(1).max(16),
    }),
  }),
  /** Two-step sign-in (staff MFA): who must, who may; guessing limits for codes. */
  mfa: z.strictObject({
    requiredForRoles: z.array(z.string()).default(['school-admin', 'ministry-admin']),
    offeredToRoles: z.array(z.string()).default(['staff']),
    maxFailures: z.coerce.number().int().min(1).max(100).default(5),
    windowMinutes: z.coerce.number().int().min(1).max(24 * 60).default(15),
  }).default({ requiredForRoles: ['school-admin', 'ministry-admin'], offeredToRoles: ['staff'], maxFailures: 5, windowMinutes: 15 }),
  /** The first-use notice (flows/app-notice/): roles told what an app receives before its first use; empty: off. */
  privacy: z.strictObject({
    noticeRoles: z.array(z.string()).default([]),
  }).default({ noticeRoles: [] }),
  /** Sign-in badges for the youngest pupils (domain/badges/): who, PIN, school hours and networks. */
  badges: z.strictObject({
    levels: z.array(z.enum(['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'S1', 'S2', 'S3', 'S4', 'S5', 'JC1', 'JC2'])).default(['P1', 'P2', 'P3']),
    pinDigits: z.coerce.number().int().refine((n) => n === 0 || (n >= 4 && n <= 6), '0 (no PIN) or 4 to 6').default(0),
    hours: z.strictObject({
      days: z.array(z.number().int().min(1).max(7)).min(1),
      from: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day, "07:00"'),
      to: z.string().regex(/^([01]\d|2[0-4]):[0-5]\d$/, 'a time of day, "18:30"'),
    }).nullable().default(null),
    maxPinFailures: z.coerce.number().int().min(3).max(1000).default(10),
    networks: z.array(z.string().max(64).refine((v) => { const [a, bits, extra] = v.split('/'); const kind = isIP(a ?? ''); return kind !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (kind === 4 ? 32 : 128))); }, 'an address or a network in CIDR form (10.20.0.0/16)')).default([]),
  }).default({ levels: ['P1', 'P2', 'P3'], pinDigits: 0, hours: null, maxPinFailures: 10, networks: [] }),
  /**
   * The roster lifecycle (domain/provisioning/, README "Provisioning"): per population (the
   * first whose roles hold all of an account's roles), when unused accounts are disabled and
   * how long leavers are kept; how often the server runs the scheduled steps.
   */
  lifecycle: z.strictObject({
    runEveryMinutes: z.coerce.number().int().min(0).max(7 * 24 * 60).default(60),
    populations: z.array(z.strictObject({
      name: z.string().min(1),
      roles: z.array(z.enum(['student', 'staff', 'school-admin', 'ministry-admin'])).min(1),
      dormantDays: z.number().int().min(7).max(3650).nullable().default(null),
      retentionDays: z.number().int().min(0).max(3650).nullable().default(null),
      joinCredential: z.enum(['slip', 'badge']).default('slip'),
    })).default([]),
  }).default({ runEveryMinutes: 60, populations: [] }),
  admin: z.strictObject({
    recentAuthMinutes: z.coerce.number().positive(),
    pageSize: z.coerce.number().int().min(1).max(200),
    /**
     * Whether a form teacher gives a student a temporary password ("allowed", audited) or asks
     * the school administrator for one ("approval"), by school code; "default" for the rest.
     */
    formTeacherPasswords: z.record(z.string(), z.enum(['allowed', 'approval'])).default({ default: 'allowed' }),
  }),
  passwordPolicy: z.strictObject({
    default: passwordRules,
    populations: z.array(z.strictObject({
      name: z.string().min(1),
      loginIdDomains: z.array(z.string().toLowerCase()).default([]),
      roles: z.array(z.string()).default([]),
      rules: passwordRules.partial().default({}),
    })).default([]),
    /**
     * The format of temporary passwords (administrator resets, imports) by population name;
     * "default" for the rest: "random" (14+ mixed characters) or "words" (capitalised short
     * words joined by digits, readable by young children; src/domain/passwords/generate.ts).
     */
    temporaryPasswords: z.record(z.string(), z.enum(['random', 'words'])).default({ default: 'random' }),
    /** How many days a generated temporary password signs in; after that a new one is needed. */
    temporaryPasswordDays: z.coerce.number().int().min(1).max(365).default(14),
  }).refine((p) => Object.keys(p.temporaryPasswords).every((name) => name === 'default' || p.populations.some((pop) => pop.name === name)), {
    message: 'temporaryPasswords: each key must be "default" or the name of a population',
    path: ['temporaryPasswords'],
  }),
  saml: z.strictObject({
    /** The IdP's entityID; defaults to <publicUrl>/saml/metadata. */
    entityId: z.string().min(1).max(1024).optional(),
    /** The scope of eduPersonPrincipalName and subject-id (a domain the school owns); defaults to the public URL's host name. */
    scope: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'a domain name in lower case (e.g. school.edu.sg)').max(253).optional(),
    /** How far back NotBefore is set and how much clock difference inbound IssueInstants may have. */
    clockSkewSeconds: z.coerce.number().int().min(0).max(600),
    /** How long an assertion may be presented (NotOnOrAfter). */
    assertionLifetimeSeconds: z.coerce.number().int().min(30).max(3600),
    /** Oldest IssueInstant accepted on an inbound request; also how long request IDs are remembered. */
    requestMaxAgeSeconds: z.coerce.number().int().min(30).max(3600),
    /** Cap on an inbound message after base64 and inflate. */
    maxMessageBytes: z.coerce.number().int().min(4096).max(1_048_576),
    /** Default cap on RelayState (the SAML bindings say 80 bytes); SP files may raise it. */
    relayStateMaxBytes: z.coerce.number().int().min(80).max(4096),
    signatureAlgorithm: z.enum(['rsa-sha256', 'rsa-sha512']),
    /** Key rotation: how long a next certificate is in metadata before it may sign, and the old one stays after. */
    certificateOverlapHours: z.coerce.number().min(0).max(24 * 90),
  }),
  sims: z.strictObject({
    enabled: z.boolean(),
    sls: z.strictObject({ port: z.coerce.number().int().min(0).max(65535), publicUrl: url }),
    workspace: z.strictObject({ port: z.coerce.number().int().min(0).max(65535), publicUrl: url }),
  }),
  apps: z.array(appSchema),
});

export type Settings = z.infer<typeof settingsSchema>;
export type AppTile = z.infer<typeof appSchema>;
export type PasswordRulesConfig = z.infer<typeof passwordRules>;
export type Level = z.infer<typeof level>;
export const LEVELS = level.options;

/** Whether a listening address is only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

type EnvParse = (raw: string) => unknown;
const asList: EnvParse = (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean);
const asBool: EnvParse = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  return raw; // left for the schema to refuse
};

/** Every environment variable the IdP reads, with the settings key it sets. */
export const ENVIRONMENT: ReadonlyArray<{ env: string; key: string; parse?: EnvParse }> = [
  { env: 'PORT', key: 'server.port' },
  { env: 'IDP_HOST', key: 'server.host' },
  { env: 'IDP_WORKERS', key: 'server.workers' },
  { env: 'IDP_PUBLIC_URL', key: 'server.publicUrl' },
  { env: 'IDP_SAML_SCOPE', key: 'saml.scope' },
  { env: 'IDP_TRUST_PROXY', key: 'server.trustProxy', parse: asBool },
  { env: 'IDP_PROXY_HOPS', key: 'server.proxyHops' },
  { env: 'IDP_METRICS_TOKEN', key: 'server.metricsToken' },
  { env: 'REDIS_URL', key: 'redis.url' },
  { env: 'REDIS_CLUSTER_NODES', key: 'redis.clusterNodes', parse: asList },
  { env: 'REDIS_SENTINELS', key: 'redis.sentinels', parse: asList },
  { env: 'REDIS_SENTINEL_NAME', key: 'redis.sentinelName' },
  { env: 'REDIS_KEY_PREFIX', key: 'redis.keyPrefix' },
  { env: 'REDIS_WAIT_REPLICAS', key: 'redis.waitReplicas' },
  { env: 'REDIS_WAIT_TIMEOUT_MS', key: 'redis.waitTimeoutMs' },
  { env: 'IDP_HEADERS_TIMEOUT_MS', key: 'server.headersTimeoutMs' },
  { env: 'IDP_REQUEST_TIMEOUT_MS', key: 'server.requestTimeoutMs' },
  { env: 'IDP_KEEP_ALIVE_TIMEOUT_MS', key: 'server.keepAliveTimeoutMs' },
  { env: 'DATABASE_URL', key: 'database.url' },
  { env: 'DATABASE_SCHEMA', key: 'database.schema' },
  { env: 'IDP_DATA_DIR', key: 'database.dataDir' },
  { env: 'IDP_KEYS_DIR', key: 'keysDir' },
  { env: 'IDP_DEMO_SEED', key: 'seed.demo', parse: asBool },
  { env: 'IDP_DEMO_ON_NETWORK', key: 'seed.demoOnNetwork', parse: asBool },
  { env: 'IDP_SEED_FILE', key: 'seed.file' },
  { env: 'IDP_SSO_IDLE_MINUTES', key: 'sso.idleMinutes' },
  { env: 'IDP_SSO_ABSOLUTE_HOURS', key: 'sso.absoluteHours' },
  { env: 'IDP_FLOW_IDLE_SECONDS', key: 'flow.idleSeconds' },
  { env: 'IDP_FLOW_MAX_MINUTES', key: 'flow.maxMinutes' },
  { env: 'IDP_ARGON2_MEMORY_KIB', key: 'argon2.memoryCost' },
  { env: 'IDP_ARGON2_TIME_COST', key: 'argon2.timeCost' },
  { env: 'IDP_ARGON2_PARALLELISM', key: 'argon2.parallelism' },
  { env: 'LOG_LEVEL', key: 'log.level' },
  { env: 'IDP_SIMS', key: 'sims.enabled', parse: asBool },
  { env: 'SLS_SIM_PORT', key: 'sims.sls.port' },
  { env: 'SLS_SIM_URL', key: 'sims.sls.publicUrl' },
  { env: 'WORKSPACE_SIM_PORT', key: 'sims.workspace.port' },
  { env: 'WORKSPACE_SIM_URL', key: 'sims.workspace.publicUrl' },
  { env: 'IDP_SAML_ENTITY_ID', key: 'saml.entityId' },
  { env: 'IDP_SAML_CERT_OVERLAP_HOURS', key: 'saml.certificateOverlapHours' },
  { env: 'IDP_LOCKOUT_MAX_FAILURES', key: 'lockout.maxFailures' },
  { env: 'IDP_LOCKOUT_MINUTES', key: 'lockout.lockMinutes' },
  { env: 'IDP_ADMIN_RECENT_AUTH_MINUTES', key: 'admin.recentAuthMinutes' },
  { env: 'IDP_REVEAL_NO_QUESTIONS', key: 'forgotPassword.revealNoQuestions', parse: asBool },
  { env: 'SMTP_URL', key: 'mail.smtpUrl' },
  { env: 'MAIL_FROM', key: 'mail.from' },
];

/** Environment variables read besides ENVIRONMENT (they name files rather than set one key). */
export const ENVIRONMENT_FILES: ReadonlyArray<{ env: string; what: string }> = [
  { env: 'IDP_CONFIG_FILE', what: 'a JSON file of settings, merged over config/default.json' },
  { env: 'IDP_RP_DIR', what: 'a directory of relying-party files, added to config/relying-parties' },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function setPath(target: Json, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (!isObject(node[p])) node[p] = {};
    node = node[p] as Json;
  }
  node[parts[parts.length - 1]!] = value;
}

function readJsonFile(file: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new ConfigError(`${file}: must hold a JSON object`);
  return parsed;
}

/**
 * PORT alone moves everything that still has its default: the public URL becomes
 * http://localhost:<PORT>, workspace-sim listens on PORT+1 and sls-sim on PORT+2 (with
 * their URLs), as 3000/3001/3002 by default. What the configuration or the environment
 * sets stays as set.
 */
function movePorts(raw: Json, env: NodeJS.ProcessEnv): void {
  const port = Number(env.PORT);
  if (!env.PORT || !Number.isInteger(port) || port <= 0 || port > 65533 || !isObject(raw.server)) return;
  const defaults = readJsonFile(path.join(projectRoot, 'config/default.json'));
  const d = defaults as { server: { publicUrl: string }; sims: Record<'sls' | 'workspace', { port: number; publicUrl: string }> };
  if (!env.IDP_PUBLIC_URL && raw.server.publicUrl === d.server.publicUrl) raw.server.publicUrl = `http://localhost:${port}`;
  if (!isObject(raw.sims)) return;
  for (const [sim, offset, portEnv, urlEnv] of [['workspace', 1, 'WORKSPACE_SIM_PORT', 'WORKSPACE_SIM_URL'], ['sls', 2, 'SLS_SIM_PORT', 'SLS_SIM_URL']] as const) {
    const current = raw.sims[sim];
    if (!isObject(current) || env[portEnv] || Number(current.port) !== d.sims[sim].port) continue;
    current.port = port + offset;
    if (!env[urlEnv] && current.publicUrl === d.sims[sim].publicUrl) current.publicUrl = `http://localhost:${port + offset}`;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra values merged last (tests use this instead of files). */
  overrides?: Json;
}

export function loadSettings({ env = process.env, overrides = {} }: LoadOptions = {}): Settings {
  const configDir = path.join(projectRoot, 'config');
  let raw = readJsonFile(path.join(configDir, 'default.json'));
  const local = path.join(configDir, 'local.json');
  if (existsSync(local)) raw = merge(raw, readJsonFile(local));
  if (env.IDP_CONFIG_FILE) raw = merge(raw, readJsonFile(path.resolve(env.IDP_CONFIG_FILE)));

  const fromEnv: Json = {};
  for (const { env: name, key, parse } of ENVIRONMENT) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(fromEnv, key, parse ? parse(value) : value);
  }
  raw = merge(merge(raw, fromEnv), overrides);
  movePorts(raw, env);
  // IDP_RP_DIR adds a directory to the built-in one rather than replacing it.
  if (env.IDP_RP_DIR) raw.relyingPartyDirs = [...((raw.relyingPartyDirs as string[]) ?? []), env.IDP_RP_DIR];
  // Without an explicit choice, demo accounts are seeded only on the embedded store.
  if (isObject(raw.seed) && raw.seed.demo === 'auto') {
    raw.seed.demo = !(isObject(raw.redis) && (raw.redis.url || (raw.redis.clusterNodes as unknown[] | undefined)?.length || (raw.redis.sentinels as unknown[] | undefined)?.length)) && !(isObject(raw.database) && raw.database.url);
  }

  const result = settingsSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.join('.');
      const envName = ENVIRONMENT.find((e) => e.key === key || key.startsWith(`${e.key}.`))?.env;
      return `  ${key}${envName ? ` (env ${envName})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const settings = result.data;
  // Listening address: "auto" is loopback while the demo accounts (public passwords) are
  // loaded, every interface otherwise; the demo seed on a non-loopback address is refused
  // unless seed.demoOnNetwork says it is meant.
  if (settings.server.host === 'auto') settings.server.host = settings.seed.demo ? '127.0.0.1' : '0.0.0.0';
  if (settings.seed.demo && !isLoopback(settings.server.host) && !settings.seed.demoOnNetwork) {
    throw new ConfigError(`invalid configuration:\n  server.host (env IDP_HOST): ${settings.server.host} would serve the demo accounts, whose passwords are public, to the network; listen on 127.0.0.1, turn the demo seed off (IDP_DEMO_SEED=false), or set IDP_DEMO_ON_NETWORK=true if that is really meant`);
  }
  // Unset: the cores a deployment has when its state is shared (bench/README.md, issue 30:
  // one process left one of two cores idle), one process where state lives inside it.
  if (settings.server.workers === undefined) {
    settings.server.workers = usesRedisSettings(settings.redis) && settings.database.url && !settings.seed.demo ? 'auto' : 1;
  }
  // Several processes share state through Redis only: the embedded store lives in one process.
  if (settings.server.workers !== 1 && !usesRedisSettings(settings.redis)) {
    throw new ConfigError('invalid configuration:\n  server.workers (env IDP_WORKERS): more than one IdP process needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): the embedded store lives inside one process');
  }
  // The embedded database is a folder one process opens: several need a PostgreSQL server.
  if (settings.server.workers !== 1 && !settings.database.url) {
    throw new ConfigError('invalid configuration:\n  server.workers (env IDP_WORKERS): more than one IdP process needs a PostgreSQL server (DATABASE_URL): the embedded database lives inside one process');
  }
  // Tile URLs may name the simulated apps' addresses, which are configurable.
  for (const app of settings.apps) {
    app.url = app.url.replaceAll('{sims.sls.publicUrl}', settings.sims.sls.publicUrl).replaceAll('{sims.workspace.publicUrl}', settings.sims.workspace.publicUrl);
  }
  settings.keysDir = path.resolve(projectRoot, settings.keysDir);
  settings.database.dataDir = path.resolve(projectRoot, settings.database.dataDir);
  settings.relyingPartyDirs = settings.relyingPartyDirs.map((d) => path.resolve(projectRoot, d));
  if (settings.seed.file) settings.seed.file = path.resolve(settings.seed.file);
  return settings;
}

function usesRedisSettings(r: { url?: string | undefined; clusterNodes: string[]; sentinels: string[] }): boolean {
  return Boolean(r.url) || r.clusterNodes.length > 0 || r.sentinels.length > 0;
}
