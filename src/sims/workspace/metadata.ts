// workspace-sim's SAML SP metadata: served at /saml/metadata, and what `npm start`
// registers with the IdP. Like Google Workspace it asks for a signed response and does not
// sign its AuthnRequests. Unlike Google (which has no SAML single logout) it takes single
// logout over HTTP-Redirect from the browser and over SOAP from the IdP's back channel
// (its LogoutRequests and LogoutResponses are signed with its own key).

export function workspaceEntityId(publicUrl: string): string {
  return `${publicUrl}/saml/metadata`;
}

function body(certificatePem: string): string {
  return certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export function workspaceSpMetadata(publicUrl: string, signingCertificatePem: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${workspaceEntityId(publicUrl)}">`,
    '  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
    '    <md:KeyDescriptor use="signing">',
    `      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(signingCertificatePem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`,
    '    </md:KeyDescriptor>',
    `    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${publicUrl}/saml/slo"/>`,
    `    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="${publicUrl}/saml/slo/soap"/>`,
    '    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>',
    `    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${publicUrl}/saml/acs" index="0" isDefault="true"/>`,
    '  </md:SPSSODescriptor>',
    '</md:EntityDescriptor>',
    '',
  ].join('\n');
}
