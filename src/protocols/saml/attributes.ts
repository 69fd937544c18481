// What an assertion says about the account: the attributes an SP's file selects
// ("attributes"), named by the SP's attribute profile ("attribute_profile").
//   basic (the default): the short names (mail, givenName, ...), NameFormat basic.
//   uri: the standard names that Shibboleth's stock attribute-map.xml (and most
//     university SPs) expect, NameFormat uri, FriendlyName the short name. role goes out
//     as eduPersonAffiliation (values below); school and level have no standard name and
//     go out under this product's own URNs. The uri profile also releases
//     eduPersonPrincipalName and subject-id, scoped (URI_IDENTIFIERS), and with role the
//     same affiliations scoped as well (eduPersonScopedAffiliation, SCOPED_AFFILIATION),
//     the one of them that Shibboleth's stock attribute map decodes (as `affiliation`).
import { createHash, createHmac } from 'node:crypto';
import type { SamlAttributeName } from '../../config/relying-parties.ts';
import type { Account, Role } from '../../domain/accounts/account.ts';
import { ATTRNAME_BASIC, ATTRNAME_URI } from './constants.ts';
import { c14nText } from './canonical-signing.ts';

export type AttributeProfile = 'basic' | 'uri';

/** The uri profile: Name (urn:oid: of inetOrgPerson / eduPerson, or ours) and FriendlyName. */
export const URI_ATTRIBUTES: Record<SamlAttributeName, { name: string; friendlyName: string }> = {
  mail: { name: 'urn:oid:0.9.2342.19200300.100.1.3', friendlyName: 'mail' },
  givenName: { name: 'urn:oid:2.5.4.42', friendlyName: 'givenName' },
  sn: { name: 'urn:oid:2.5.4.4', friendlyName: 'sn' },
  displayName: { name: 'urn:oid:2.16.840.1.113730.3.1.241', friendlyName: 'displayName' },
  school: { name: 'urn:school-idp:attribute:school', friendlyName: 'school' },
  level: { name: 'urn:school-idp:attribute:level', friendlyName: 'level' },
  role: { name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1', friendlyName: 'eduPersonAffiliation' },
};

/**
 * Identifiers the uri profile always releases, scoped by the IdP's scope (saml.scope, in its
 * metadata as shibmd:Scope): eduPersonPrincipalName and SAML subject-id (SAML V2.0 Subject
 * Identifier Attributes Profile), both `<unique id>@<scope>`. They are what Shibboleth's
 * stock attribute map decodes (as eppn and subject-id) and what its REMOTE_USER takes.
 */
export const URI_IDENTIFIERS = {
  eppn: { name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6', friendlyName: 'eduPersonPrincipalName' },
  subjectId: { name: 'urn:oasis:names:tc:SAML:attribute:subject-id', friendlyName: 'subject-id' },
} as const;

/**
 * The unique part of an account's scoped identifiers: opaque, stable for the account's life
 * (its id, never its login ID, which can change), never reassigned, and within subject-id's
 * alphabet ([0-9A-Za-z][0-9A-Za-z=-]*): lower-case hex of a hash of the account id.
 */
export function scopedUnique(account: Pick<Account, 'id'>): string {
  return createHash('sha256').update(`subject-id\n${account.id}`).digest('hex').slice(0, 32);
}

/**
 * eduPersonScopedAffiliation: the eduPersonAffiliation values of the account's roles, each
 * `<value>@<scope>`; released with `role` in the uri profile. Shibboleth's stock
 * attribute-map.xml decodes it (id `affiliation`) while eduPersonAffiliation is commented out.
 */
export const SCOPED_AFFILIATION = { name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9', friendlyName: 'eduPersonScopedAffiliation' } as const;

export const PAIRWISE_ID = { name: 'urn:oasis:names:tc:SAML:attribute:pairwise-id', friendlyName: 'pairwise-id' } as const;

/** What an SP's metadata asks of subject identifiers (entity attribute subject-id:req). */
export type SubjectIdReq = 'subject-id' | 'pairwise-id' | 'any' | 'none';

/** Where scoped identifiers come from: the scope, and the secret that makes pairwise-id per SP. */
export interface ScopedIdentifiers {
  scope: string;
  /** A secret of the deployment: without it nobody can link an account's pairwise-ids across SPs. */
  pairwiseSecret: string;
}

/** The unique part of the account's pairwise-id at one SP: an HMAC of the account and the SP's entityID. */
export function pairwiseUnique(account: Pick<Account, 'id'>, spEntityId: string, secret: string): string {
  return createHmac('sha256', secret).update(`pairwise-id\n${account.id}\n${spEntityId}`).digest('hex').slice(0, 32);
}

/**
 * The identifiers for one SP. By default (no subject-id:req, or "subject-id" or "any"):
 * eduPersonPrincipalName and subject-id. "pairwise-id": pairwise-id alone, so that no
 * identifier the SP gets is shared with another SP. "none": no identifier.
 */
function identifierElements(account: Account, ids: ScopedIdentifiers, spEntityId: string, req: SubjectIdReq | undefined, persistent: boolean): string {
  const element = (id: { name: string; friendlyName: string }, unique: string) =>
    `<saml:Attribute FriendlyName="${id.friendlyName}" Name="${id.name}" NameFormat="${ATTRNAME_URI}"><saml:AttributeValue>${unique}@${c14nText(ids.scope)}</saml:AttributeValue></saml:Attribute>`;
  if (req === 'none') return '';
  // An SP given a persistent NameID (not allowed mail) gets no identifier shared with other SPs either.
  if (req === 'pairwise-id' || persistent) return element(PAIRWISE_ID, pairwiseUnique(account, spEntityId, ids.pairwiseSecret));
  return Object.values(URI_IDENTIFIERS).map((id) => element(id, scopedUnique(account))).join('');
}

/** eduPersonAffiliation values of each role; every account is also a `member`. */
export const AFFILIATIONS: Record<Role, string[]> = {
  student: ['student'],
  staff: ['staff', 'employee'],
  'school-admin': ['staff', 'employee'],
  'ministry-admin': ['staff', 'employee'],
};

/** Attribute values of an account, by the names SPs select in their file. */
export function accountAttributes(account: Account): Record<SamlAttributeName, string[]> {
  return {
    mail: [account.loginId],
    givenName: [account.givenName],
    sn: [account.familyName],
    displayName: [account.displayName],
    school: [account.school.name],
    level: account.level ? [account.level] : [],
    role: [...account.roles],
  };
}

function affiliations(roles: Role[]): string[] {
  return [...new Set([...roles.flatMap((r) => AFFILIATIONS[r]), 'member'])];
}

/** The opening of a saml:Attribute element (without its values), by profile. */
function attributeOpening(name: SamlAttributeName, profile: AttributeProfile): string {
  if (profile === 'basic') return `<saml:Attribute Name="${name}" NameFormat="${ATTRNAME_BASIC}"`;
  const uri = URI_ATTRIBUTES[name];
  return `<saml:Attribute FriendlyName="${uri.friendlyName}" Name="${uri.name}" NameFormat="${ATTRNAME_URI}"`;
}

/**
 * The saml:Attribute elements of an assertion: the selected attributes that have values,
 * and with the uri profile the scoped identifiers (when a scope is given).
 */
export function attributeElements(account: Account, selected: SamlAttributeName[], profile: AttributeProfile, ids?: ScopedIdentifiers, sp?: { entityId: string; subjectIdReq?: SubjectIdReq | undefined; nameIdFormat?: 'emailAddress' | 'persistent' }): string {
  const values = accountAttributes(account);
  const identifiers = profile === 'uri' && ids && sp ? identifierElements(account, ids, sp.entityId, sp.subjectIdReq, sp.nameIdFormat === 'persistent') : '';
  const valuesOf = (out: string[]) => out.map((v) => `<saml:AttributeValue>${c14nText(v)}</saml:AttributeValue>`).join('');
  return identifiers + selected
    .filter((name) => values[name].length > 0)
    .map((name) => {
      if (profile === 'uri' && name === 'role') {
        const unscoped = affiliations(account.roles);
        const scoped = ids ? `<saml:Attribute FriendlyName="${SCOPED_AFFILIATION.friendlyName}" Name="${SCOPED_AFFILIATION.name}" NameFormat="${ATTRNAME_URI}">${valuesOf(unscoped.map((v) => `${v}@${ids.scope}`))}</saml:Attribute>` : '';
        return `${attributeOpening(name, profile)}>${valuesOf(unscoped)}</saml:Attribute>${scoped}`;
      }
      return `${attributeOpening(name, profile)}>${valuesOf(values[name])}</saml:Attribute>`;
    })
    .join('');
}

/** The attributes the IdP's metadata lists: each one by both profiles. */
export function metadataAttributes(names: readonly SamlAttributeName[]): string[] {
  return [
    ...(['basic', 'uri'] as const).flatMap((profile) => names.map((name) => `${attributeOpening(name, profile)}/>`)),
    ...[...Object.values(URI_IDENTIFIERS), PAIRWISE_ID, SCOPED_AFFILIATION].map((id) => `<saml:Attribute Name="${id.name}" NameFormat="${ATTRNAME_URI}" FriendlyName="${id.friendlyName}"/>`),
  ];
}
