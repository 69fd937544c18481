// The IdP's SAML metadata (/saml/metadata). Written here rather than by samlify so that
// the element order is the schema's (KeyDescriptor, SingleLogoutService, NameIDFormat,
// SingleSignOnService, Attribute): strict SPs such as Shibboleth refuse other orders.
// test/saml/metadata.test.ts validates it with `xmllint --schema`.
import { SAML_ATTRIBUTES } from '../../config/relying-parties.ts';
import { metadataAttributes } from './attributes.ts';
import { BINDING, NAMEID_EMAIL, NS } from './constants.ts';
import { escapeXml } from './xml.ts';

export interface IdpEndpoints {
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
}

export function idpEndpoints(publicUrl: string, entityId?: string): IdpEndpoints {
  return { entityId: entityId ?? `${publicUrl}/saml/metadata`, ssoUrl: `${publicUrl}/saml/sso`, sloUrl: `${publicUrl}/saml/slo` };
}

/** The certificate's base64 body, as metadata and KeyInfo carry it. */
export function certificateBody(certificatePem: string): string {
  return certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export function idpMetadata(endpoints: IdpEndpoints, certificatePem: string, organisation: { name: string; url: string }): string {
  const a = escapeXml;
  const cert = certificateBody(certificatePem);
  const bindings = [BINDING.redirect, BINDING.post];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" xmlns:saml="${NS.assertion}" entityID="${a(endpoints.entityId)}">`,
    `  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">`,
    '    <md:KeyDescriptor use="signing">',
    `      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`,
    '    </md:KeyDescriptor>',
    ...bindings.map((b) => `    <md:SingleLogoutService Binding="${b}" Location="${a(endpoints.sloUrl)}"/>`),
    `    <md:NameIDFormat>${NAMEID_EMAIL}</md:NameIDFormat>`,
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
