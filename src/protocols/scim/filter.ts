// SCIM filters (RFC 7644 §3.4.2.2), parsed by scim2-parse-filter and turned into the
// conditions the directory can answer with an index: `eq` and `sw` on userName and
// externalId, comparisons on meta.lastModified, `eq` on id (Groups: displayName, externalId,
// id, and members[value eq "…"]), joined by `and`. Anything else is refused with
// scimType invalidFilter, naming what is supported: a filter is never half-applied.
import { parse, type Filter } from 'scim2-parse-filter';
import type { AccountCondition } from '../../store/directory/provisioning.ts';
import { canonicalPath, invalid } from './resources.ts';

const SUPPORTED_USERS = 'userName eq|sw, externalId eq|sw, emails.value eq, id eq, meta.lastModified gt|ge|lt|le|eq, joined by and';
const SUPPORTED_GROUPS = 'displayName eq|sw, externalId eq|sw, id eq, members[value eq "…"] (or members.value eq), joined by and';

function terms(filter: string, supported: string): Filter[] {
  let ast: Filter;
  try {
    ast = parse(filter);
  } catch {
    throw invalid(`the filter is not valid SCIM filter syntax (supported: ${supported})`, 'invalidFilter');
  }
  const out: Filter[] = [];
  const walk = (f: Filter) => {
    if (f.op === 'and') (f as { filters: Filter[] }).filters.forEach(walk);
    else out.push(f);
  };
  walk(ast);
  return out;
}

function refuse(what: string, supported: string): never {
  throw invalid(`filter on ${what} is not supported (supported: ${supported})`, 'invalidFilter');
}

function stringValue(v: unknown, attr: string, supported: string): string {
  if (typeof v !== 'string') refuse(`${attr} with a value that is not a string`, supported);
  return v;
}

export function userConditions(filter: string | undefined, clientId: string): AccountCondition[] {
  if (!filter?.trim()) return [];
  return terms(filter, SUPPORTED_USERS).map((t): AccountCondition => {
    if (t.op === '[]') {
      const vp = t as { attrPath: string; valFilter: Filter };
      const inner = vp.valFilter as { op: string; attrPath?: string; compValue?: unknown };
      if (canonicalPath(vp.attrPath) === 'emails' && inner.op === 'eq' && canonicalPath(inner.attrPath ?? '') === 'value') {
        return { attribute: 'loginId', op: 'eq', value: stringValue(inner.compValue, 'emails', SUPPORTED_USERS).trim().toLowerCase() };
      }
      refuse(vp.attrPath, SUPPORTED_USERS);
    }
    const c = t as { op: string; attrPath?: string; compValue?: unknown };
    const path = canonicalPath(c.attrPath ?? '');
    if ((path === 'userName' || path === 'emails.value') && (c.op === 'eq' || (c.op === 'sw' && path === 'userName'))) {
      // userName is not case-exact: login IDs are kept in lower case.
      return { attribute: 'loginId', op: c.op, value: stringValue(c.compValue, path, SUPPORTED_USERS).trim().toLowerCase() };
    }
    if (path === 'externalId' && (c.op === 'eq' || c.op === 'sw')) return { attribute: 'externalId', op: c.op, value: stringValue(c.compValue, path, SUPPORTED_USERS), clientId };
    if (path === 'id' && c.op === 'eq') return { attribute: 'id', op: 'eq', value: stringValue(c.compValue, path, SUPPORTED_USERS) };
    if (path === 'meta.lastModified' && ['gt', 'ge', 'lt', 'le', 'eq'].includes(c.op)) {
      const at = Date.parse(stringValue(c.compValue, path, SUPPORTED_USERS));
      if (!Number.isFinite(at)) throw invalid('meta.lastModified must be compared with a dateTime', 'invalidFilter');
      return { attribute: 'updatedAt', op: c.op as 'gt', value: at };
    }
    return refuse(`${c.attrPath ?? '?'} ${c.op}`, SUPPORTED_USERS);
  });
}

export interface GroupConditions {
  id?: string;
  displayName?: { op: 'eq' | 'sw'; value: string };
  externalId?: { op: 'eq' | 'sw'; value: string };
  member?: string;
}

export function groupConditions(filter: string | undefined): GroupConditions {
  const out: GroupConditions = {};
  if (!filter?.trim()) return out;
  for (const t of terms(filter, SUPPORTED_GROUPS)) {
    if (t.op === '[]') {
      const vp = t as { attrPath: string; valFilter: Filter };
      const inner = vp.valFilter as { op: string; attrPath?: string; compValue?: unknown };
      if (canonicalPath(vp.attrPath) === 'members' && inner.op === 'eq' && canonicalPath(inner.attrPath ?? '') === 'value') {
        out.member = stringValue(inner.compValue, 'members', SUPPORTED_GROUPS);
        continue;
      }
      refuse(vp.attrPath, SUPPORTED_GROUPS);
    }
    const c = t as { op: string; attrPath?: string; compValue?: unknown };
    const path = canonicalPath(c.attrPath ?? '');
    if (path === 'displayName' && (c.op === 'eq' || c.op === 'sw')) out.displayName = { op: c.op, value: stringValue(c.compValue, path, SUPPORTED_GROUPS).trim().toUpperCase() };
    else if (path === 'externalId' && (c.op === 'eq' || c.op === 'sw')) out.externalId = { op: c.op, value: stringValue(c.compValue, path, SUPPORTED_GROUPS) };
    else if (path === 'id' && c.op === 'eq') out.id = stringValue(c.compValue, path, SUPPORTED_GROUPS);
    else if (path === 'members.value' && c.op === 'eq') out.member = stringValue(c.compValue, path, SUPPORTED_GROUPS);
    else refuse(`${c.attrPath ?? '?'} ${c.op}`, SUPPORTED_GROUPS);
  }
  return out;
}
