// The SAML service providers this IdP knows: one per relying-party file with
// "protocol": "saml". Each file's metadata is read for the SP's entityID, its assertion
// consumer and logout endpoints and its keys; the file's options say how to sign,
// encrypt and what to release. Errors name the file and what is wrong.
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../../config/settings.ts';
import type { Database } from '../../store/database/index.ts';
import { readRegistered, recordFile, registeredMembers } from './registered-sps.ts';
import type { SamlAttributeName, SamlSpFile } from '../../config/relying-parties.ts';
import type { AttributeProfile, SubjectIdReq } from './attributes.ts';
import { BINDING, BINDING_SOAP, DATA_ENCRYPTION, NS } from './constants.ts';
import { attribute, childElements, parseConfigXml, textOf, XmlRefusal } from './xml.ts';

export interface Endpoint {
  binding: string;
  location: string;
  responseLocation?: string;
  index?: number;
  isDefault?: boolean;
}

export interface ServiceProvider {
  /** Short name (file "id"): /saml/launch/<id>, logs, audit. */
  id: string;
  displayName: string;
  entityId: string;
  file: string;
  /** Defined in a relying-party file, or registered in the store (cli add-rp, registered-sps.ts). */
  origin: 'file' | 'store';
  /** HTTP-POST assertion consumer services, the default first. */
  acs: Endpoint[];
  /** Front-channel SingleLogoutServices (HTTP-Redirect, HTTP-POST), carried by the browser. */
  slo: Endpoint[];
  /** A SingleLogoutService with the SOAP binding: back-channel logout, server to server. */
  soapSlo: Endpoint | undefined;
  /** PEM certificates whose keys may sign this SP's requests. */
  signingCerts: string[];
  encryptionCert: string | undefined;
  /** AuthnRequests must carry a valid signature (metadata or the file says so). */
  requestsMustBeSigned: boolean;
  signResponse: boolean;
  signAssertion: boolean;
  encryptAssertion: boolean;
  dataEncryption: string;
  attributes: SamlAttributeName[];
  /** How attributes are named: short names (basic) or standard URIs (uri); see attributes.ts. */
  attributeProfile: AttributeProfile;
  /** The Subject's NameID: the login ID (an SP allowed mail), or persistent (opaque, per SP). */
  nameIdFormat: 'emailAddress' | 'persistent';
  /** What the SP's metadata asks of subject identifiers (entity attribute subject-id:req), if anything. */
  subjectIdReq?: SubjectIdReq | undefined;
  defaultRelayState: string | undefined;
  relayStateMaxBytes: number;
}

function pem(base64: string): string {
  const body = base64.replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`;
}

function httpUrl(value: string | undefined, what: string): string {
  let url: URL;
  try {
    url = new URL(value ?? '');
  } catch {
    throw new Error(`${what}: "${value ?? ''}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${what}: must be an http(s) URL`);
  return url.toString();
}

function endpoints(descriptor: Element, name: string): Endpoint[] {
  return childElements(descriptor, NS.metadata, name).map((el) => {
    const index = attribute(el, 'index');
    return {
      binding: attribute(el, 'Binding') ?? '',
      location: httpUrl(attribute(el, 'Location'), `${name} Location`),
      ...(attribute(el, 'ResponseLocation') ? { responseLocation: httpUrl(attribute(el, 'ResponseLocation'), `${name} ResponseLocation`) } : {}),
      ...(index !== undefined ? { index: Number(index) } : {}),
      ...(attribute(el, 'isDefault') !== undefined ? { isDefault: attribute(el, 'isDefault') === 'true' } : {}),
    };
  });
}

const MDATTR_NS = 'urn:oasis:names:tc:SAML:metadata:attribute';
const SUBJECT_ID_REQ = 'urn:oasis:names:tc:SAML:profiles:subject-id:req';

/** The entity attribute subject-id:req (SAML V2.0 Subject Identifier Attributes Profile 3.4), when the metadata has one this IdP knows. */
function subjectIdReqOf(root: Element): SubjectIdReq | undefined {
  for (const ext of childElements(root, NS.metadata, 'Extensions')) {
    for (const entityAttributes of childElements(ext, MDATTR_NS, 'EntityAttributes')) {
      for (const attr of childElements(entityAttributes, NS.assertion, 'Attribute')) {
        if (attribute(attr, 'Name') !== SUBJECT_ID_REQ) continue;
        const value = childElements(attr, NS.assertion, 'AttributeValue').map((v) => (textOf(v) ?? '').trim())[0];
        if (value === 'subject-id' || value === 'pairwise-id' || value === 'any' || value === 'none') return value;
      }
    }
  }
  return undefined;
}

/** Reads one SP file's metadata; throws ConfigError naming the file. */
export function serviceProviderFrom(file: SamlSpFile, defaultRelayStateMax: number): ServiceProvider {
  try {
    const doc = parseConfigXml(file.metadataXml);
    const root = doc.documentElement!;
    if (root.namespaceURI !== NS.metadata || root.localName !== 'EntityDescriptor') {
      throw new Error('the root element must be md:EntityDescriptor');
    }
    const entityId = attribute(root, 'entityID');
    if (!entityId || entityId.length > 1024) throw new Error('EntityDescriptor has no entityID (or one over 1024 characters)');
    const descriptors = childElements(root, NS.metadata, 'SPSSODescriptor').filter((d) =>
      (attribute(d, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol),
    );
    if (descriptors.length !== 1) throw new Error('metadata must have exactly one SPSSODescriptor for SAML 2.0');
    const sp = descriptors[0]!;

    const signingCerts: string[] = [];
    const encryptionCerts: string[] = [];
    for (const kd of childElements(sp, NS.metadata, 'KeyDescriptor')) {
      const use = attribute(kd, 'use');
      for (const keyInfo of childElements(kd, NS.dsig, 'KeyInfo')) {
        for (const data of childElements(keyInfo, NS.dsig, 'X509Data')) {
          for (const c of childElements(data, NS.dsig, 'X509Certificate')) {
            const certificate = pem(textOf(c) ?? '');
            try {
              new X509Certificate(certificate);
            } catch {
              throw new Error('a KeyDescriptor holds a certificate that cannot be read');
            }
            if (use !== 'encryption') signingCerts.push(certificate);
            if (use !== 'signing') encryptionCerts.push(certificate);
          }
        }
      }
    }

    const allAcs = endpoints(sp, 'AssertionConsumerService');
    // Responses are sent with HTTP-POST only (the Web Browser SSO profile's usual choice).
    const acs = allAcs.filter((e) => e.binding === BINDING.post);
    if (acs.length === 0) throw new Error('no AssertionConsumerService with the HTTP-POST binding');
    acs.sort((a, b) => Number(b.isDefault === true) - Number(a.isDefault === true));
    const allSlo = endpoints(sp, 'SingleLogoutService');
    const slo = allSlo.filter((e) => e.binding === BINDING.post || e.binding === BINDING.redirect);
    const soapSlo = allSlo.find((e) => e.binding === BINDING_SOAP);

    const metadataWantsSigned = attribute(sp, 'AuthnRequestsSigned') === 'true';
    const requestsMustBeSigned = metadataWantsSigned || file.requests_must_be_signed;
    if (requestsMustBeSigned && signingCerts.length === 0) throw new Error('requests must be signed, but the metadata has no signing certificate');
    const encryptAssertion = file.encrypt_assertion ?? encryptionCerts.length > 0;
    if (encryptAssertion && encryptionCerts.length === 0) throw new Error('encrypt_assertion is true, but the metadata has no encryption certificate');

    return {
      id: file.id,
      displayName: file.display_name,
      entityId,
      file: file.file,
      origin: file.file.startsWith('store:') ? 'store' : 'file',
      acs,
      slo,
      soapSlo,
      signingCerts,
      encryptionCert: encryptionCerts[0],
      requestsMustBeSigned,
      signResponse: file.sign_response,
      signAssertion: file.sign_assertion,
      encryptAssertion,
      dataEncryption: DATA_ENCRYPTION[file.data_encryption],
      attributes: file.attributes,
      attributeProfile: file.attribute_profile,
      nameIdFormat: file.name_id_format ?? (file.attributes.includes('mail') ? 'emailAddress' : 'persistent'),
      subjectIdReq: subjectIdReqOf(root),
      defaultRelayState: file.default_relay_state,
      relayStateMaxBytes: file.relay_state_max_bytes ?? defaultRelayStateMax,
    };
  } catch (err) {
    const reason = err instanceof XmlRefusal ? `not usable XML (${err.message})` : (err as Error).message;
    throw new ConfigError(`${file.file}: metadata: ${reason}`);
  }
}

/** Where registered SPs are read from, and how long a process's copy of them is used. */
export interface RegisteredSource {
  database: Database;
  /** A copy of the registered SPs older than this is read again before use (default 2 s): removal takes this long at most. */
  cacheMs?: number;
  /** An unknown SP is looked for in the store again when the copy is older than this (default 250 ms). */
  missMs?: number;
  /** A registered SP that no longer passes the checks, or collides with a file; it is left out. */
  onSkipped?: (member: string, reason: string) => void;
}

/**
 * Every SP, found by entityID (inbound Issuer) or by id (URLs): those of the relying-party
 * files, fixed at start-up, and those registered in the store, re-read as described in
 * registered-sps.ts. The synchronous lookups answer from the copy in hand; the find*
 * ones bring it up to date first (every entry point of a SAML exchange uses those).
 */
export class ServiceProviders {
  readonly #byEntityId = new Map<string, ServiceProvider>();
  readonly #byId = new Map<string, ServiceProvider>();
  readonly #defaultRelayStateMax: number;
  readonly #source: RegisteredSource | undefined;
  /** Registered SPs by index member ("<digest>.<revision>"). */
  #registered = new Map<string, ServiceProvider>();
  #regByEntityId = new Map<string, ServiceProvider>();
  #regById = new Map<string, ServiceProvider>();
  #loadedAt = -Infinity;
  #loading: Promise<void> | undefined;
  /** Changes whenever the set of registered SPs in use changes (security.ts rebuilds its CSP). */
  version = 0;

  constructor(files: SamlSpFile[], defaultRelayStateMax: number, source?: RegisteredSource) {
    this.#defaultRelayStateMax = defaultRelayStateMax;
    this.#source = source;
    for (const f of files) {
      const sp = serviceProviderFrom(f, defaultRelayStateMax);
      const previous = this.#byEntityId.get(sp.entityId);
      if (previous) throw new ConfigError(`${f.file}: metadata: entityID "${sp.entityId}" is already registered by ${previous.file}`);
      this.#byEntityId.set(sp.entityId, sp);
      this.#byId.set(sp.id, sp);
    }
  }

  /** Reads the registered SPs again when the copy in hand is older than maxAgeMs. */
  async refresh(maxAgeMs = this.#source?.cacheMs ?? 2_000): Promise<void> {
    if (!this.#source || Date.now() - this.#loadedAt < maxAgeMs) return;
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  async #load(): Promise<void> {
    const { database, onSkipped } = this.#source!;
    const started = Date.now();
    const members = await registeredMembers(database);
    const next = new Map<string, ServiceProvider>();
    for (const member of members.sort()) {
      const known = this.#registered.get(member);
      if (known) {
        next.set(member, known);
        continue;
      }
      try {
        const record = await readRegistered(database, member);
        if (!record) continue;
        const sp = serviceProviderFrom(recordFile(record), this.#defaultRelayStateMax);
        // A file always wins: a registered SP never stands in for one defined in a file.
        if (this.#byEntityId.has(sp.entityId) || this.#byId.has(sp.id)) throw new Error(`collides with ${(this.#byEntityId.get(sp.entityId) ?? this.#byId.get(sp.id))!.file}`);
        next.set(member, sp);
      } catch (err) {
        onSkipped?.(member, (err as Error).message);
      }
    }
    const changed = next.size !== this.#registered.size || [...next.keys()].some((m) => !this.#registered.has(m));
    if (changed) {
      this.#registered = next;
      this.#regByEntityId = new Map([...next.values()].map((sp) => [sp.entityId, sp]));
      this.#regById = new Map([...next.values()].map((sp) => [sp.id, sp]));
      this.version++;
    }
    this.#loadedAt = started;
  }

  /** From the copy in hand (no store access). */
  byEntityId(entityId: string): ServiceProvider | undefined {
    return this.#byEntityId.get(entityId) ?? this.#regByEntityId.get(entityId);
  }

  /** From the copy in hand (no store access). */
  byId(id: string): ServiceProvider | undefined {
    return this.#byId.get(id) ?? this.#regById.get(id);
  }

  /** Up to date: a registered SP is found at once after add-rp, and not after remove-rp. */
  async findByEntityId(entityId: string): Promise<ServiceProvider | undefined> {
    return this.#byEntityId.get(entityId) ?? (await this.#find(() => this.#regByEntityId.get(entityId)));
  }

  async findById(id: string): Promise<ServiceProvider | undefined> {
    return this.#byId.get(id) ?? (await this.#find(() => this.#regById.get(id)));
  }

  async #find(lookup: () => ServiceProvider | undefined): Promise<ServiceProvider | undefined> {
    if (!this.#source) return undefined;
    await this.refresh();
    return lookup() ?? (await this.refresh(this.#source.missMs ?? 250), lookup());
  }

  all(): ServiceProvider[] {
    return [...this.#byId.values(), ...this.#regById.values()];
  }
}

/** The logout endpoint to use for an SP: Redirect when offered, else POST. */
export function logoutEndpoint(sp: ServiceProvider): Endpoint | undefined {
  return sp.slo.find((e) => e.binding === BINDING.redirect) ?? sp.slo.find((e) => e.binding === BINDING.post);
}
