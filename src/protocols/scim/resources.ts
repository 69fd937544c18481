// SCIM resources from accounts and classes, and the reverse: what a client sent, read into
// what the roster understands (RFC 7643). Attribute names are case-insensitive (§2.1): what
// a client sends is first put into the canonical spelling of the attributes we keep.
import { createHash } from 'node:crypto';
import { LEVELS, normaliseLoginId, type Account, type Level, type Role } from '../../domain/accounts/account.ts';
import { classLabel } from '../../domain/classes/classes.ts';
import { hasInvisibleCharacters } from '../../domain/text.ts';
import type { ClassRecord } from '../../store/directory/provisioning.ts';
import { URN } from './schemas.ts';

export class ScimError extends Error {
  override name = 'ScimError';
  readonly status: number;
  readonly scimType: string | undefined;

  constructor(status: number, detail: string, scimType?: string) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }
}

export const invalid = (detail: string, scimType = 'invalidValue') => new ScimError(400, detail, scimType);

type Json = Record<string, unknown>;

const CANONICAL = new Map<string, string>(
  ['schemas', 'id', 'externalId', 'meta', 'userName', 'name', 'formatted', 'givenName', 'familyName', 'displayName', 'userType', 'active', 'emails', 'groups',
    'members', 'value', 'display', 'type', 'primary', '$ref', 'schoolCode', 'schoolName', 'level', 'transferDate', 'leavingDate', 'year', 'password',
    'lastModified', 'created', 'resourceType', 'location', 'version', 'Operations', 'op', 'path']
    .map((n) => [n.toLowerCase(), n]),
);
const EXTENSIONS = new Map<string, string>([URN.school, URN.classOf, URN.user, URN.group].map((u) => [u.toLowerCase(), u]));

/** How deep a client's JSON may nest (ours is 3 deep; a SCIM body has no reason to go further). */
const MAX_DEPTH = 16;

/** A client's JSON with our attribute names spelt canonically (unknown names kept as sent). */
export function canonical(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new ScimError(400, `the body nests deeper than ${MAX_DEPTH} levels`, 'invalidSyntax');
  if (Array.isArray(value)) return value.map((v) => canonical(v, depth + 1));
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) out[EXTENSIONS.get(k.toLowerCase()) ?? CANONICAL.get(k.toLowerCase()) ?? k] = canonical(v, depth + 1);
  return out;
}

const CORE_PREFIXES = [`${URN.user.toLowerCase()}:`, `${URN.group.toLowerCase()}:`];

/** A PATCH path with canonical attribute names ("name.FamilyName" -> "name.familyName"); filters inside [] keep their values. */
export function canonicalPath(path: string): string {
  // A core attribute may be named with its schema ("urn:…:core:2.0:User:userName").
  const core = CORE_PREFIXES.find((p) => path.toLowerCase().startsWith(p));
  if (core) return canonicalPath(path.slice(core.length));
  const lower = path.toLowerCase();
  for (const [l, urn] of EXTENSIONS) {
    if (lower.startsWith(`${l}:`)) return `${urn}:${canonicalPath(path.slice(urn.length + 1))}`;
  }
  return path.replace(/("[^"]*")|([A-Za-z$][\w$-]*)/g, (m, quoted: string | undefined) => quoted ?? CANONICAL.get(m.toLowerCase()) ?? (['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le', 'and', 'or', 'not', 'pr'].includes(m.toLowerCase()) ? m.toLowerCase() : m));
}

/** A weak ETag from what the resource says (meta.version): changes exactly when the resource does. */
export function versionOf(resource: Json): string {
  const { meta: _, ...rest } = resource;
  return `W/"${createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 22)}"`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function userType(account: Pick<Account, 'roles'>): 'Student' | 'Staff' {
  return account.roles.includes('student') ? 'Student' : 'Staff';
}

export interface ClassRef { id: string; label: string }

export function userResource(base: string, a: Account, externalId: string | undefined, groups: ClassRef[]): Json {
  const school: Json = { schoolCode: a.school.code, schoolName: a.school.name };
  if (a.level) school.level = a.level;
  if (a.lifecycle?.move) school.transferDate = iso(a.lifecycle.move.at);
  if (a.lifecycle?.leaveAt) school.leavingDate = iso(a.lifecycle.leaveAt);
  const resource: Json = {
    schemas: [URN.user, URN.school],
    id: a.id,
    ...(externalId !== undefined ? { externalId } : {}),
    userName: a.loginId,
    name: { formatted: a.displayName, givenName: a.givenName, familyName: a.familyName },
    displayName: a.displayName,
    userType: userType(a),
    active: a.status === 'active',
    emails: [{ value: a.loginId, type: 'work', primary: true }],
    ...(groups.length ? { groups: groups.map((g) => ({ value: g.id, $ref: `${base}/Groups/${g.id}`, display: g.label, type: 'direct' })) } : {}),
    [URN.school]: school,
  };
  resource.meta = { resourceType: 'User', created: iso(a.createdAt), lastModified: iso(a.updatedAt), location: `${base}/Users/${a.id}`, version: versionOf(resource) };
  return resource;
}

export function groupResource(base: string, c: ClassRecord, externalId: string | undefined, members: Account[]): Json {
  const resource: Json = {
    schemas: [URN.group, URN.classOf],
    id: c.id,
    ...(externalId !== undefined ? { externalId } : {}),
    displayName: c.name,
    members: members.map((m) => ({ value: m.id, $ref: `${base}/Users/${m.id}`, display: m.displayName, type: 'User' })),
    [URN.classOf]: { schoolCode: c.schoolCode, year: c.year },
  };
  resource.meta = { resourceType: 'Group', created: iso(c.createdAt), lastModified: iso(c.updatedAt), location: `${base}/Groups/${c.id}`, version: versionOf(resource) };
  return resource;
}

export function classRef(c: ClassRecord): ClassRef {
  return { id: c.id, label: classLabel(c) };
}

function text(v: unknown, name: string, max: number, required: boolean): string | undefined {
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  const t = v.trim();
  if (t.length > max) throw invalid(`${name} is longer than ${max} characters`);
  if (hasInvisibleCharacters(t)) throw invalid(`${name} contains invisible or control characters`);
  return t;
}

/** A boolean as clients send it (Entra ID has sent "True"/"False"). */
export function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalid(`${name} must be true or false`);
}

function date(v: unknown, name: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null || v === '') return null;
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw invalid(`${name} must be a dateTime (xsd:dateTime, e.g. 2027-01-02T00:00:00+08:00)`);
  return t;
}

/** What a client asks a user to be (POST, PUT, or the result of a PATCH). */
export interface UserInput {
  loginId: string;
  externalId: string | null | undefined;
  givenName: string;
  familyName: string;
  displayName: string | undefined;
  role: Extract<Role, 'student' | 'staff'>;
  active: boolean | undefined;
  schoolCode: string | undefined;
  schoolName: string | undefined;
  level: Level | null;
  transferDate: number | null | undefined;
  leavingDate: number | null | undefined;
}

export function readUser(raw: unknown, options: { requireSchemas: boolean }): UserInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('the body must be a JSON object', 'invalidSyntax');
  const body = canonical(raw) as Json;
  if (options.requireSchemas && (!Array.isArray(body.schemas) || !body.schemas.some((s) => typeof s === 'string' && s.toLowerCase() === URN.user.toLowerCase()))) {
    throw invalid(`schemas must include ${URN.user}`, 'invalidSyntax');
  }
  const userName = text(body.userName, 'userName', 254, true)!;
  const loginId = normaliseLoginId(userName);
  if (!loginId) throw invalid('userName must be an email address (the login ID)');
  const name = (body.name && typeof body.name === 'object' ? body.name : {}) as Json;
  const ext = (body[URN.school] && typeof body[URN.school] === 'object' ? body[URN.school] : {}) as Json;
  const levelRaw = text(ext.level, `${URN.school}:level`, 4, false)?.toUpperCase();
  if (levelRaw !== undefined && !(LEVELS as readonly string[]).includes(levelRaw)) throw invalid(`level must be one of ${LEVELS.join(', ')}`);
  const typeRaw = text(body.userType, 'userType', 20, false)?.toLowerCase();
  let role: 'student' | 'staff';
  if (typeRaw === 'student') role = 'student';
  else if (typeRaw === 'staff' || typeRaw === 'teacher' || typeRaw === 'employee') role = 'staff';
  else if (typeRaw === undefined && levelRaw !== undefined) role = 'student';
  else throw invalid(typeRaw === undefined ? 'userType is required (Student or Staff), or a level for a student' : 'userType must be Student or Staff');
  if (role === 'student' && !levelRaw) throw invalid(`a student needs a level (${URN.school}:level)`);
  if (body.password !== undefined) throw invalid('password is not set by provisioning: the school hands out the first sign-in (a slip or a badge)', 'mutability');
  const externalId = body.externalId === null || body.externalId === '' ? null : text(body.externalId, 'externalId', 200, false);
  return {
    loginId,
    externalId,
    givenName: text(name.givenName, 'name.givenName', 100, true)!,
    familyName: text(name.familyName, 'name.familyName', 100, true)!,
    displayName: text(body.displayName, 'displayName', 200, false),
    role,
    active: bool(body.active, 'active'),
    schoolCode: text(ext.schoolCode, 'schoolCode', 40, false),
    schoolName: text(ext.schoolName, 'schoolName', 200, false),
    level: role === 'student' ? (levelRaw as Level) : null,
    transferDate: date(ext.transferDate, 'transferDate'),
    leavingDate: date(ext.leavingDate, 'leavingDate'),
  };
}

export interface GroupInput {
  displayName: string;
  externalId: string | null | undefined;
  schoolCode: string | undefined;
  year: number | undefined;
  /** Account ids; undefined when the body has no members (PUT: none). */
  members: string[] | undefined;
}

export function readGroup(raw: unknown, options: { requireSchemas: boolean }): GroupInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('the body must be a JSON object', 'invalidSyntax');
  const body = canonical(raw) as Json;
  if (options.requireSchemas && (!Array.isArray(body.schemas) || !body.schemas.some((s) => typeof s === 'string' && s.toLowerCase() === URN.group.toLowerCase()))) {
    throw invalid(`schemas must include ${URN.group}`, 'invalidSyntax');
  }
  const ext = (body[URN.classOf] && typeof body[URN.classOf] === 'object' ? body[URN.classOf] : {}) as Json;
  let members: string[] | undefined;
  if (body.members !== undefined && body.members !== null) {
    if (!Array.isArray(body.members)) throw invalid('members must be a list');
    members = body.members.map((m, i) => {
      const value = m && typeof m === 'object' ? (m as Json).value : undefined;
      if (typeof value !== 'string' || !value) throw invalid(`members[${i}].value must be a user's id`);
      return value;
    });
  }
  const year = ext.year === undefined || ext.year === null ? undefined : Number(ext.year);
  if (year !== undefined && !(Number.isInteger(year) && year >= 2000 && year <= 2100)) throw invalid('year must be a school year (2000 to 2100)');
  return {
    displayName: text(body.displayName, 'displayName', 40, true)!,
    externalId: body.externalId === null ? null : text(body.externalId, 'externalId', 200, false),
    schoolCode: text(ext.schoolCode, 'schoolCode', 40, false),
    year,
    members,
  };
}

/**
 * Keeps what `attributes` names (or drops what `excludedAttributes` names) of a resource
 * (RFC 7644 §3.9): `id` and `schemas` always stay; "name.givenName" keeps one sub-attribute;
 * an extension's attributes are named with its URN ("urn:…:User:level").
 */
export function project(resource: Json, attributes: string[] | undefined, excluded: string[] | undefined): Json {
  if (!attributes?.length && !excluded?.length) return resource;
  const split = (a: string): [string, string | undefined] => {
    const c = canonicalPath(a.trim());
    for (const urn of EXTENSIONS.values()) {
      if (c === urn) return [urn, undefined];
      if (c.startsWith(`${urn}:`)) return [urn, c.slice(urn.length + 1)];
    }
    const [top, sub] = c.split('.', 2) as [string, string | undefined];
    return [top, sub];
  };
  if (attributes?.length) {
    const out: Json = { schemas: resource.schemas, id: resource.id };
    for (const a of attributes) {
      const [top, sub] = split(a);
      if (!(top in resource)) continue;
      const v = resource[top];
      if (sub === undefined || !v || typeof v !== 'object' || Array.isArray(v)) out[top] = v;
      else out[top] = { ...((out[top] as Json | undefined) ?? {}), ...(sub in (v as Json) ? { [sub]: (v as Json)[sub] } : {}) };
    }
    return out;
  }
  const out: Json = structuredClone(resource);
  for (const a of excluded ?? []) {
    const [top, sub] = split(a);
    if (top === 'id' || top === 'schemas') continue;
    if (sub === undefined) delete out[top];
    else if (out[top] && typeof out[top] === 'object') delete (out[top] as Json)[sub];
  }
  return out;
}
