// The IdP's SAML metadata (/saml/metadata). Written here rather than by samlify so that
// the element order is the schema's (KeyDescriptor, SingleLogoutService, NameIDFormat,
// SingleSignOnService, Attribute): strict SPs such as Shibboleth refuse other orders.
// As served, its root says how long it may be cached (cacheDuration) and until when it
// is valid (validUntil, counted from each request, so it never lapses while the IdP
// serves it). test/saml/sso.test.ts validates it with `xmllint --schema`.
import { SAML_ATTRIBUTES } from '../../config/relying-parties.ts';
import { metadataAttributes } from './attributes.ts';
import { ACCEPTED_DIGESTS, ACCEPTED_SIGNATURE_ALGORITHMS, BINDING, NAMEID_EMAIL, NAMEID_PERSISTENT, NS } from './constants.ts';
import { escapeXml } from './xml.ts';

/** urn:oasis:names:tc:SAML:metadata:algsupport (SAML V2.0 Metadata Profile for Algorithm Support v1.0). */
export const ALGSUPPORT_NS = 'urn:oasis:names:tc:SAML:metadata:algsupport';

/** urn:mace:shibboleth:metadata:1.0: shibmd:Scope, the scope of the IdP's scoped attributes. */
export const SHIBMD_NS = 'urn:mace:shibboleth:metadata:1.0';

export interface IdpEndpoints {
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
  /** The scope of scoped attributes (eduPersonPrincipalName, subject-id): saml.scope, else the public URL's host name. */
  scope: string;
}

export function idpEndpoints(publicUrl: string, entityId?: string, scope?: string): IdpEndpoints {
  return { entityId: entityId ?? `${publicUrl}/saml/metadata`, ssoUrl: `${publicUrl}/saml/sso`, sloUrl: `${publicUrl}/saml/slo`, scope: scope ?? new URL(publicUrl).hostname };
}

/** The certificate's base64 body, as metadata and KeyInfo carry it. */
export function certificateBody(certificatePem: string): string {
  return certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** How long an SP may cache the metadata: Shibboleth's default refresh ceiling (README). */
export const METADATA_CACHE_DURATION = 'PT4H';
/** validUntil is this long after the metadata is served: inside Shibboleth's usual P14D cap (README). */
export const METADATA_VALIDITY_MS = 7 * 24 * 3600_000;

/** The metadata as served at `now`: its root with validUntil and cacheDuration. */
export function servedMetadata(metadataXml: string, now: number): string {
  const validUntil = new Date(Math.floor((now + METADATA_VALIDITY_MS) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return metadataXml.replace('<md:EntityDescriptor ', `<md:EntityDescriptor validUntil="${validUntil}" cacheDuration="${METADATA_CACHE_DURATION}" `);
}

/** certificatePem: the signing certificate, or every published one (current first: next and retiring during a rotation). */
export function idpMetadata(endpoints: IdpEndpoints, certificatePem: string | readonly string[], organisation: { name: string; url: string }): string {
  const a = escapeXml;
  const certs = (typeof certificatePem === 'string' ? [certificatePem] : certificatePem).map(certificateBody);
  const bindings = [BINDING.redirect, BINDING.post];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" xmlns:saml="${NS.assertion}" entityID="${a(endpoints.entityId)}">`,
    // SAML V2.0 Metadata Profile for Algorithm Support: what this IdP accepts on signed
    // messages (the same lists it checks them against). An SP that honours it (Shibboleth SP)
    // signs for this IdP with one of these, not with its SHA-1 default, which is refused.
    '  <md:Extensions>',
    ...[...ACCEPTED_DIGESTS].map((alg) => `    <alg:DigestMethod xmlns:alg="${ALGSUPPORT_NS}" Algorithm="${alg}"/>`),
    ...Object.keys(ACCEPTED_SIGNATURE_ALGORITHMS).map((alg) => `    <alg:SigningMethod xmlns:alg="${ALGSUPPORT_NS}" Algorithm="${alg}"/>`),
    '  </md:Extensions>',
    `  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">`,
    // The scope SPs check scoped attributes against (Shibboleth SP: ScopeMatchesShibMDScope).
    `    <md:Extensions><shibmd:Scope xmlns:shibmd="${SHIBMD_NS}" regexp="false">${a(endpoints.scope)}</shibmd:Scope></md:Extensions>`,
    ...certs.flatMap((cert) => [
      '    <md:KeyDescriptor use="signing">',
      `      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`,
      '    </md:KeyDescriptor>',
    ]),
    ...bindings.map((b) => `    <md:SingleLogoutService Binding="${b}" Location="${a(endpoints.sloUrl)}"/>`),
    `    <md:NameIDFormat>${NAMEID_EMAIL}</md:NameIDFormat>`,
    `    <md:NameIDFormat>${NAMEID_PERSISTENT}</md:NameIDFormat>`,
    ...bindings.map((b) => `    <md:SingleSignOnService Binding="${b}" Location="${a(endpoints.ssoUrl)}"/>`),
    ...metadataAttributes(SAML_ATTRIBUTES).map((a) => `    ${a}`),
    '  </md:IDPSSODescriptor>',
    '  <md:Organization>',
    `    <md:OrganizationName xml:lang="en">${a(organisation.name)}</md:OrganizationName>`,
    `    <md:OrganizationDisplayName xml:lang="en">${a(organisation.name)}</md:OrganizationDisplayName>`,
    `    <md:OrganizationURL xml:lang="en">${a(organisation.url)}</md:OrganizationURL>`,
    '  </md:Organization>',
    '</md:EntityDescriptor>',
    '',
  ].join('\n');
}
