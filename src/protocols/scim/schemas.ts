// What this SCIM service provider serves (RFC 7643 §5–7, RFC 7644 §4): its configuration,
// the schemas of the attributes it keeps (only those: an attribute it would drop is not
// advertised), and its resource types. Users are accounts; Groups are classes.
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  /** A pupil's or a teacher's school and level, and a scheduled leaving or transfer (an extension URN Entra ID's custom mappings accept). */
  school: 'urn:ietf:params:scim:schemas:extension:school-idp:2.0:User',
  /** A class's school and school year. */
  classOf: 'urn:ietf:params:scim:schemas:extension:school-idp:2.0:Group',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  config: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

/** The most resources one list response holds (filter.maxResults). */
export const MAX_RESULTS = 500;
export const DEFAULT_COUNT = 100;

type Attr = Record<string, unknown>;

function attr(name: string, type: string, more: Attr = {}): Attr {
  return {
    name, type, multiValued: false, description: '', required: false, caseExact: false,
    mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...more,
  };
}

const USER_ATTRIBUTES: Attr[] = [
  attr('userName', 'string', { required: true, uniqueness: 'server', mutability: 'immutable', description: 'The login ID: an email address. It cannot change (a new login ID is a new account).' }),
  attr('name', 'complex', {
    description: 'The parts of the name.',
    subAttributes: [
      attr('formatted', 'string', { mutability: 'readOnly', description: 'The full name (displayName).' }),
      attr('givenName', 'string', { required: true }),
      attr('familyName', 'string', { required: true }),
    ],
  }),
  attr('displayName', 'string', { description: 'The name shown; given and family name when absent.' }),
  attr('userType', 'string', { canonicalValues: ['Student', 'Staff'], description: 'Student or Staff (teachers, aides). Administrators are not made by provisioning.' }),
  attr('active', 'boolean', { description: 'false disables the account (its sessions end; apps are told). DELETE is leaving.' }),
  attr('emails', 'complex', {
    multiValued: true, mutability: 'readOnly', description: 'The login ID, as the work email.',
    subAttributes: [attr('value', 'string', { mutability: 'readOnly' }), attr('type', 'string', { mutability: 'readOnly' }), attr('primary', 'boolean', { mutability: 'readOnly' })],
  }),
  attr('groups', 'complex', {
    multiValued: true, mutability: 'readOnly', description: 'The class a student is in, and the classes a teacher is form teacher of (change them through Groups).',
    subAttributes: [attr('value', 'string', { mutability: 'readOnly' }), attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['Group'] }), attr('display', 'string', { mutability: 'readOnly' }), attr('type', 'string', { mutability: 'readOnly', canonicalValues: ['direct'] })],
  }),
];

const GROUP_ATTRIBUTES: Attr[] = [
  attr('displayName', 'string', { required: true, uniqueness: 'server', description: 'The class name (1 to 20 of A-Z, 0-9, space . / -, kept in upper case), e.g. 4A; unique per school and year.' }),
  attr('members', 'complex', {
    multiValued: true, description: 'Students of the class, and its form teachers (Staff).',
    subAttributes: [attr('value', 'string', { mutability: 'immutable' }), attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User'] }), attr('display', 'string', { mutability: 'readOnly' }), attr('type', 'string', { mutability: 'immutable', canonicalValues: ['User'] })],
  }),
];

const SCHOOL_ATTRIBUTES: Attr[] = [
  attr('schoolCode', 'string', { caseExact: true, description: 'The school (a code this client may provision). A change is a transfer: at transferDate, or now.' }),
  attr('schoolName', 'string', { mutability: 'readOnly', description: 'The school\'s name as the directory has it (given only for a school that has no accounts yet).' }),
  attr('level', 'string', { canonicalValues: ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'S1', 'S2', 'S3', 'S4', 'S5', 'JC1', 'JC2'], description: 'A student\'s level.' }),
  attr('transferDate', 'dateTime', { description: 'When a change of schoolCode takes effect (absent or past: at once).' }),
  attr('leavingDate', 'dateTime', { description: 'The account is disabled at this date, and deleted after the retention period.' }),
];

const CLASS_ATTRIBUTES: Attr[] = [
  attr('schoolCode', 'string', { caseExact: true, mutability: 'immutable', description: 'The class\'s school; the client\'s school when it has one.' }),
  attr('year', 'integer', { mutability: 'immutable', description: 'The school year (calendar year in Singapore); this year when absent.' }),
];

function schemaResource(id: string, name: string, description: string, attributes: Attr[], base: string): Attr {
  return { schemas: [URN.schema], id, name, description, attributes, meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` } };
}

export function schemaResources(base: string): Attr[] {
  return [
    schemaResource(URN.user, 'User', 'User Account', USER_ATTRIBUTES, base),
    schemaResource(URN.group, 'Group', 'Group: a class', GROUP_ATTRIBUTES, base),
    schemaResource(URN.school, 'SchoolUser', 'School, level, transfer and leaving', SCHOOL_ATTRIBUTES, base),
    schemaResource(URN.classOf, 'SchoolClass', 'The school and year of a class', CLASS_ATTRIBUTES, base),
  ];
}

export function resourceTypes(base: string): Attr[] {
  return [
    {
      schemas: [URN.resourceType], id: 'User', name: 'User', endpoint: '/Users', description: 'User Account', schema: URN.user,
      schemaExtensions: [{ schema: URN.school, required: false }], meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [URN.resourceType], id: 'Group', name: 'Group', endpoint: '/Groups', description: 'Class', schema: URN.group,
      schemaExtensions: [{ schema: URN.classOf, required: false }], meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfig(base: string, documentationUri: string): Attr {
  return {
    schemas: [URN.config],
    documentationUri,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'A provisioning client\'s token (cli scim-client add), in the Authorization header.', specUri: 'https://www.rfc-editor.org/rfc/rfc6750', primary: true }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}
