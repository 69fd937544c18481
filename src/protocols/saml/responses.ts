// Outbound SAML messages. The Response to an SP is written here (so that every value is
// ours: Destination and Recipient are the ACS URL chosen from the SP's metadata, never
// the request's word) in canonical form, and its Assertion and/or the Response signed
// here (canonical-signing.ts). An assertion the SP wants encrypted is handed to samlify,
// which signs and encrypts in the order that keeps every signature valid: sign
// assertion, encrypt, sign response.
// Logout messages (LogoutRequest to SPs, LogoutResponse) are signed here too: enveloped
// signatures for HTTP-POST (samlify's SamlLib), detached ones for HTTP-Redirect.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import type { SamlKeyPair } from '../../config/key-material.ts';
import type { Account } from '../../domain/accounts/account.ts';
import {
  AUTHN_PASSWORD_PROTECTED, BINDING, CM_BEARER, KEY_TRANSPORT_RSA_OAEP, NAMEID_EMAIL, NAMEID_PERSISTENT, NS, OUTBOUND_SIGNATURE, STATUS,
} from './constants.ts';
import { attributeElements, pairwiseUnique } from './attributes.ts';
import { certificateBody, type IdpEndpoints } from './metadata.ts';
import type { Endpoint, ServiceProvider } from './service-providers.ts';
import { escapeXml } from './xml.ts';
import { c14nElement, c14nText, CanonicalSigner } from './canonical-signing.ts';

export function newMessageId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

/** xs:dateTime in UTC without milliseconds (what every SP parses). */
export function samlTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface LoginResponseInput {
  sp: ServiceProvider;
  acsUrl: string;
  /** The AuthnRequest's ID; absent for IdP-initiated sign-in. */
  inResponseTo?: string | undefined;
  account: Account;
  sessionIndex: string;
  authInstant: number;
  /** When the SSO session ends at the latest (SessionNotOnOrAfter). */
  sessionNotOnOrAfter: number;
  now: number;
  /** What the sign-in met (authn-context.ts); PasswordProtectedTransport when absent. */
  authnContextClassRef?: string | undefined;
}

export interface ErrorResponseInput {
  sp: ServiceProvider;
  acsUrl: string;
  inResponseTo?: string | undefined;
  status: string;
  subStatus?: string;
  message?: string;
  now: number;
}

export interface ResponseTiming {
  clockSkewSeconds: number;
  assertionLifetimeSeconds: number;
  signatureAlgorithm: keyof typeof OUTBOUND_SIGNATURE;
}

interface SamlifyPair {
  idp: samlify.IdentityProviderInstance;
  sp: samlify.ServiceProviderInstance;
}

export class SamlMessages {
  readonly #endpoints: IdpEndpoints;
  #keys: SamlKeyPair;
  #metadataXml: string;
  readonly #timing: ResponseTiming;
  readonly #pairs = new Map<string, SamlifyPair>();
  #privateKey: ReturnType<typeof createPrivateKey>;
  #signer: CanonicalSigner;

  readonly #pairwiseSecret: string | undefined;

  /** pairwiseSecret: the deployment's secret for pairwise-id (without it the uri profile releases no scoped identifiers). */
  constructor(endpoints: IdpEndpoints, keys: SamlKeyPair, metadataXml: string, timing: ResponseTiming, pairwiseSecret?: string) {
    this.#pairwiseSecret = pairwiseSecret;
    this.#endpoints = endpoints;
    this.#keys = keys;
    this.#metadataXml = metadataXml;
    this.#timing = timing;
    this.#privateKey = createPrivateKey(keys.privateKeyPem);
    this.#signer = new CanonicalSigner(this.#privateKey, certificateBody(keys.certificatePem), timing.signatureAlgorithm);
  }

  /** Signs with another key from now on (key rotation): the metadata lists its certificate. */
  rekey(keys: SamlKeyPair, metadataXml: string): void {
    this.#privateKey = createPrivateKey(keys.privateKeyPem);
    this.#signer = new CanonicalSigner(this.#privateKey, certificateBody(keys.certificatePem), this.#timing.signatureAlgorithm);
    this.#keys = keys;
    this.#metadataXml = metadataXml;
    this.#pairs.clear();
  }

  get entityId(): string {
    return this.#endpoints.entityId;
  }

  /** samlify's view of the IdP and one SP, built once per SP with that SP's options. */
  #pair(sp: ServiceProvider): SamlifyPair {
    let pair = this.#pairs.get(sp.id);
    if (!pair) {
      const idp = samlify.IdentityProvider({
        metadata: this.#metadataXml,
        privateKey: this.#keys.privateKeyPem,
        requestSignatureAlgorithm: OUTBOUND_SIGNATURE[this.#timing.signatureAlgorithm].uri,
        isAssertionEncrypted: sp.encryptAssertion,
        dataEncryptionAlgorithm: sp.dataEncryption,
        keyEncryptionAlgorithm: KEY_TRANSPORT_RSA_OAEP,
      } as Parameters<typeof samlify.IdentityProvider>[0]);
      const spEntity = samlify.ServiceProvider({
        entityID: sp.entityId,
        assertionConsumerService: sp.acs.map((e) => ({ Binding: e.binding, Location: e.location })),
        wantAssertionsSigned: sp.signAssertion,
        wantMessageSigned: sp.signResponse,
        ...(sp.encryptionCert ? { encryptCert: sp.encryptionCert } : {}),
      });
      pair = { idp, sp: spEntity };
      this.#pairs.set(sp.id, pair);
    }
    return pair;
  }

  /** The Response element in canonical form (canonical-signing.ts), the assertion (if any) inside. */
  #responseXml(input: { id: string; acsUrl: string; inResponseTo?: string | undefined; now: number; status: string; subStatus?: string | undefined; message?: string | undefined; assertion?: string }): string {
    const el = c14nElement;
    const subStatus = input.subStatus ? el('samlp:StatusCode', { Value: input.subStatus }) : '';
    const message = input.message ? el('samlp:StatusMessage', {}, c14nText(input.message)) : '';
    return el('samlp:Response', { ID: input.id, Version: '2.0', IssueInstant: samlTime(input.now), Destination: input.acsUrl, InResponseTo: input.inResponseTo || undefined },
      el('saml:Issuer', {}, c14nText(this.#endpoints.entityId), NS.assertion) +
      el('samlp:Status', {}, el('samlp:StatusCode', { Value: input.status }, subStatus) + message) +
      (input.assertion ?? ''), NS.protocol);
  }

  /**
   * The NameID an SP knows the account by: the login ID (emailAddress), or a persistent
   * identifier of its own (the same HMAC as its pairwise-id: opaque, stable, per SP).
   */
  nameIdOf(sp: Pick<ServiceProvider, 'entityId' | 'nameIdFormat'>, account: Pick<Account, 'id' | 'loginId'>): { format: string; value: string } {
    if (sp.nameIdFormat === 'emailAddress') return { format: NAMEID_EMAIL, value: account.loginId };
    if (this.#pairwiseSecret === undefined) throw new Error('persistent NameIDs need the deployment\'s pairwise secret');
    return { format: NAMEID_PERSISTENT, value: pairwiseUnique(account, sp.entityId, this.#pairwiseSecret) };
  }

  /** A NameID element (persistent ones qualified by the IdP and the SP, SAML core 8.3.7), in canonical form. */
  nameIdXml(sp: Pick<ServiceProvider, 'entityId'>, nameId: { format: string; value: string }): string {
    const persistent = nameId.format === NAMEID_PERSISTENT;
    return c14nElement('saml:NameID', { Format: nameId.format, NameQualifier: persistent ? this.#endpoints.entityId : undefined, SPNameQualifier: persistent ? sp.entityId : undefined }, c14nText(nameId.value));
  }

  /**
   * A signed (and, when the SP wants it, encrypted) successful Response, base64. Signed
   * here without parsing (canonical-signing.ts); an assertion to encrypt goes through
   * samlify (sign the assertion, encrypt, sign the response).
   */
  async loginResponse(input: LoginResponseInput): Promise<{ id: string; samlResponse: string }> {
    const el = c14nElement;
    const { sp, account } = input;
    const id = newMessageId();
    const assertionId = newMessageId();
    const notOnOrAfter = samlTime(input.now + this.#timing.assertionLifetimeSeconds * 1000);
    const attributes = attributeElements(account, sp.attributes, sp.attributeProfile, this.#pairwiseSecret === undefined ? undefined : { scope: this.#endpoints.scope, pairwiseSecret: this.#pairwiseSecret }, sp);
    let assertion = el('saml:Assertion', { ID: assertionId, Version: '2.0', IssueInstant: samlTime(input.now) },
      el('saml:Issuer', {}, c14nText(this.#endpoints.entityId)) +
      el('saml:Subject', {}, this.nameIdXml(sp, this.nameIdOf(sp, account)) +
        el('saml:SubjectConfirmation', { Method: CM_BEARER }, el('saml:SubjectConfirmationData', { InResponseTo: input.inResponseTo || undefined, NotOnOrAfter: notOnOrAfter, Recipient: input.acsUrl }))) +
      el('saml:Conditions', { NotBefore: samlTime(input.now - this.#timing.clockSkewSeconds * 1000), NotOnOrAfter: notOnOrAfter },
        el('saml:AudienceRestriction', {}, el('saml:Audience', {}, c14nText(sp.entityId)))) +
      el('saml:AuthnStatement', { AuthnInstant: samlTime(input.authInstant), SessionIndex: input.sessionIndex, SessionNotOnOrAfter: samlTime(input.sessionNotOnOrAfter) },
        el('saml:AuthnContext', {}, el('saml:AuthnContextClassRef', {}, c14nText(input.authnContextClassRef ?? AUTHN_PASSWORD_PROTECTED)))) +
      (attributes ? el('saml:AttributeStatement', {}, attributes) : ''), NS.assertion);
    if (sp.encryptAssertion) {
      const xml = this.#responseXml({ id, acsUrl: input.acsUrl, inResponseTo: input.inResponseTo, now: input.now, status: STATUS.success, assertion });
      const pair = this.#pair(sp);
      const created = await pair.idp.createLoginResponse(pair.sp, { extract: {} }, 'post', {}, {
        customTagReplacement: () => ({ id, context: xml }),
        encryptThenSign: true,
      });
      return { id, samlResponse: created.context as string };
    }
    if (sp.signAssertion) assertion = this.#signer.sign(assertion, assertionId);
    let xml = this.#responseXml({ id, acsUrl: input.acsUrl, inResponseTo: input.inResponseTo, now: input.now, status: STATUS.success, assertion });
    if (sp.signResponse) xml = this.#signer.sign(xml, id);
    return { id, samlResponse: Buffer.from(xml, 'utf8').toString('base64') };
  }

  /** A signed Response without an assertion (the user cancelled, NoPassive, ...), base64. */
  errorResponse(input: ErrorResponseInput): { id: string; samlResponse: string } {
    const id = newMessageId();
    const xml = this.#responseXml({ id, acsUrl: input.acsUrl, inResponseTo: input.inResponseTo, now: input.now, status: input.status, subStatus: input.subStatus, message: input.message });
    return { id, samlResponse: Buffer.from(this.#signer.sign(xml, id), 'utf8').toString('base64') };
  }

  /** A LogoutRequest naming the participant as its assertion did (`sp`: its NameID format). */
  logoutRequestXml(input: { id: string; destination: string; nameId: string; sessionIndex: string; now: number; sp?: Pick<ServiceProvider, 'entityId' | 'nameIdFormat'> | undefined }): string {
    const e = escapeXml;
    return (
      `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${input.id}" Version="2.0" IssueInstant="${samlTime(input.now)}" Destination="${e(input.destination)}" NotOnOrAfter="${samlTime(input.now + this.#timing.assertionLifetimeSeconds * 1000)}">` +
      `<saml:Issuer>${e(this.#endpoints.entityId)}</saml:Issuer>` +
      (input.sp ? this.nameIdXml(input.sp, { format: input.sp.nameIdFormat === 'persistent' ? NAMEID_PERSISTENT : NAMEID_EMAIL, value: input.nameId }) : `<saml:NameID Format="${NAMEID_EMAIL}">${e(input.nameId)}</saml:NameID>`) +
      `<samlp:SessionIndex>${e(input.sessionIndex)}</samlp:SessionIndex>` +
      '</samlp:LogoutRequest>'
    );
  }

  logoutResponseXml(input: { id: string; destination: string; inResponseTo: string; status: string; now: number }): string {
    const e = escapeXml;
    return (
      `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${input.id}" Version="2.0" IssueInstant="${samlTime(input.now)}" Destination="${e(input.destination)}" InResponseTo="${e(input.inResponseTo)}">` +
      `<saml:Issuer>${e(this.#endpoints.entityId)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="${input.status}"/></samlp:Status>` +
      '</samlp:LogoutResponse>'
    );
  }

  /** An enveloped signature over the root element, placed after its Issuer. */
  signEnveloped(xml: string): string {
    return samlify.SamlLib.constructSAMLSignature({
      rawSamlMessage: xml,
      isMessageSigned: true,
      isBase64Output: false,
      privateKey: this.#keys.privateKeyPem,
      privateKeyPass: '',
      signatureAlgorithm: OUTBOUND_SIGNATURE[this.#timing.signatureAlgorithm].uri,
      // samlify takes the certificate as metadata carries it (base64, no PEM armour).
      signingCert: certificateBody(this.#keys.certificatePem),
      signatureConfig: { prefix: 'ds', location: { reference: "/*/*[local-name(.)='Issuer']", action: 'after' } },
    } as Parameters<typeof samlify.SamlLib.constructSAMLSignature>[0]) as string;
  }

  /**
   * How to deliver a message to an endpoint: a signed HTTP-Redirect URL, or an
   * auto-submitted form for HTTP-POST (with an enveloped signature).
   */
  deliver(endpoint: Endpoint, param: 'SAMLRequest' | 'SAMLResponse', xml: string, relayState: string | undefined, useResponseLocation = false):
    | { kind: 'redirect'; url: string }
    | { kind: 'post'; action: string; fields: Record<string, string> } {
    const location = (useResponseLocation && endpoint.responseLocation) || endpoint.location;
    if (endpoint.binding === BINDING.redirect) {
      const alg = OUTBOUND_SIGNATURE[this.#timing.signatureAlgorithm];
      let query = `${param}=${encodeURIComponent(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`;
      if (relayState !== undefined) query += `&RelayState=${encodeURIComponent(relayState)}`;
      query += `&SigAlg=${encodeURIComponent(alg.uri)}`;
      const signature = sign(alg.node, Buffer.from(query, 'utf8'), this.#privateKey).toString('base64');
      const url = new URL(location);
      const joined = `${url.search ? `${url.search}&` : '?'}${query}&Signature=${encodeURIComponent(signature)}`;
      return { kind: 'redirect', url: `${url.origin}${url.pathname}${joined}` };
    }
    const fields: Record<string, string> = { [param]: Buffer.from(this.signEnveloped(xml)).toString('base64') };
    if (relayState !== undefined) fields.RelayState = relayState;
    return { kind: 'post', action: location, fields };
  }
}
