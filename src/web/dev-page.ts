// GET /dev: a page for developers connecting an app, on in demo mode only (seed.demo,
// IDP_DEMO_SEED; the default on the embedded store) and 404 otherwise. It lists every OIDC
// client (files and registered over HTTP) and SAML SP (files and registered by the CLI) with
// the settings to paste into common libraries, this IdP's endpoints, certificates and JWKS,
// and a decoder (views/static/dev.js) that decodes and verifies tokens and SAML Responses
// in the browser against the keys on the page: nothing is sent anywhere.
// GET /dev/mail (and /dev/mail.json): the embedded mailbox of demo mode without SMTP_URL,
// the newest messages the IdP sent (recovery-email codes and notices), for testers.
import { X509Certificate } from 'node:crypto';
import Router from '@koa/router';
import type { KeyMaterial } from '../config/key-material.ts';
import type { OidcClientFile } from '../config/relying-parties.ts';
import type { Settings } from '../config/settings.ts';
import { AppError } from '../domain/errors.ts';
import type { Render } from '../http/respond.ts';
import { registeredClients } from '../protocols/oidc/adapter.ts';
import type { IdpEndpoints } from '../protocols/saml/metadata.ts';
import type { ServiceProvider, ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { Store } from '../store/index.ts';
import type { Database } from '../store/database/index.ts';
import type { Mailbox } from '../mail/index.ts';

export interface DevPageDeps {
  enabled: boolean;
  /** The embedded mailbox (demo mode without SMTP_URL); null: mail goes through SMTP, or none. */
  mailbox: Mailbox | null;
  settings: Settings;
  store: Store;
  database: Database;
  oidcClients: OidcClientFile[];
  sps: ServiceProviders;
  samlEndpoints: IdpEndpoints;
  keys: () => KeyMaterial;
  render: Render;
}

/** The public members of a JWK (the key material holds private ones). */
const PUBLIC_JWK = ['kty', 'kid', 'use', 'alg', 'n', 'e', 'crv', 'x', 'y'];

export interface DevClient {
  clientId: string;
  name: string;
  origin: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  authMethod: string;
  scope: string;
  publicClient: boolean;
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** The snippets for one OIDC client: openid-client, Spring Security, authlib. */
function oidcSnippets(c: DevClient, issuer: string): Record<string, string> {
  const codeFlow = c.grantTypes.includes('authorization_code');
  const redirect = c.redirectUris[0] ?? 'https://your-app.example/callback';
  const scopes = c.scope ? c.scope.split(' ').filter((s) => s !== 'offline_access' || c.grantTypes.includes('refresh_token')) : codeFlow ? ['openid', 'profile', 'email'] : [];
  const auth = c.authMethod === 'client_secret_post' ? 'undefined, client.ClientSecretPost(process.env.CLIENT_SECRET)' : c.publicClient ? 'undefined, client.None()' : 'process.env.CLIENT_SECRET';
  // openid-client refuses plain http unless told (an IdP on localhost in development).
  const insecure = issuer.startsWith('http:') ? `${c.authMethod === 'client_secret_basic' ? ', undefined' : ''}, { execute: [client.allowInsecureRequests] }` : '';
  const springAuth = c.authMethod === 'client_secret_post' ? 'client_secret_post' : c.authMethod === 'none' ? 'none' : 'client_secret_basic';
  const discovery = `const config = await client.discovery(new URL(${JSON.stringify(issuer)}), ${JSON.stringify(c.clientId)}, ${auth}${insecure});`;
  return {
    'openid-client (Node.js, v6)': [
      "import * as client from 'openid-client';",
      '',
      discovery,
      ...(codeFlow
        ? [
            'const verifier = client.randomPKCECodeVerifier();',
            'const url = client.buildAuthorizationUrl(config, {',
            `  redirect_uri: ${JSON.stringify(redirect)},`,
            `  scope: ${JSON.stringify(scopes.join(' '))},`,
            '  code_challenge: await client.calculatePKCECodeChallenge(verifier),',
            "  code_challenge_method: 'S256',",
            '});',
            '// at the redirect URI:',
            '// const tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: verifier });',
          ]
        : [`const tokens = await client.clientCredentialsGrant(config${scopes.length ? `, { scope: ${JSON.stringify(scopes.join(' '))} }` : ''});`]),
    ].join('\n'),
    'Spring Security (application.yml)': [
      'spring:',
      '  security:',
      '    oauth2:',
      '      client:',
      '        registration:',
      '          mims:',
      `            client-id: ${yamlString(c.clientId)}`,
      ...(c.publicClient ? [] : ['            client-secret: ${CLIENT_SECRET}']),
      `            client-authentication-method: ${springAuth}`,
      `            authorization-grant-type: ${codeFlow ? 'authorization_code' : 'client_credentials'}`,
      ...(codeFlow ? [`            redirect-uri: ${yamlString(redirect)}`] : []),
      ...(scopes.length ? [`            scope: ${scopes.join(',')}`] : []),
      '        provider:',
      '          mims:',
      `            issuer-uri: ${yamlString(issuer)}`,
      ...(codeFlow ? ['            user-name-attribute: sub'] : []),
    ].join('\n'),
    'authlib (Python)': codeFlow
      ? [
          'from authlib.integrations.flask_client import OAuth',
          '',
          'oauth = OAuth(app)',
          'oauth.register(',
          "    name='mims',",
          `    client_id=${JSON.stringify(c.clientId)},`,
          ...(c.publicClient ? [] : ["    client_secret=os.environ['CLIENT_SECRET'],"]),
          `    server_metadata_url=${JSON.stringify(`${issuer}/.well-known/openid-configuration`)},`,
          `    client_kwargs={'scope': ${JSON.stringify(scopes.join(' '))}, 'code_challenge_method': 'S256'${c.authMethod === 'client_secret_post' ? ", 'token_endpoint_auth_method': 'client_secret_post'" : c.publicClient ? ", 'token_endpoint_auth_method': 'none'" : ''}},`,
          ')',
          `# redirect_uri: ${redirect}`,
        ].join('\n')
      : [
          'from authlib.integrations.requests_client import OAuth2Session',
          '',
          `session = OAuth2Session(${JSON.stringify(c.clientId)}, os.environ['CLIENT_SECRET']${scopes.length ? `, scope=${JSON.stringify(scopes.join(' '))}` : ''}${c.authMethod === 'client_secret_post' ? ", token_endpoint_auth_method='client_secret_post'" : ''})`,
          `token = session.fetch_token(${JSON.stringify(`${issuer}/oidc/token`)}, grant_type='client_credentials')`,
        ].join('\n'),
  };
}

/** The snippets for one SAML SP: node-saml and Shibboleth SP. */
function samlSnippets(sp: ServiceProvider, e: IdpEndpoints, publicUrl: string, certificatePem: string): Record<string, string> {
  const acs = sp.acs[0]!.location;
  const slo = sp.slo[0];
  return {
    'node-saml (Node.js)': [
      "import { SAML } from '@node-saml/node-saml';",
      '',
      'const saml = new SAML({',
      `  entryPoint: ${JSON.stringify(e.ssoUrl)},`,
      ...(slo ? [`  logoutUrl: ${JSON.stringify(e.sloUrl)},`] : []),
      `  issuer: ${JSON.stringify(sp.entityId)},`,
      `  callbackUrl: ${JSON.stringify(acs)},`,
      `  audience: ${JSON.stringify(sp.entityId)},`,
      `  idpIssuer: ${JSON.stringify(e.entityId)},`,
      `  idpCert: ${JSON.stringify(certificatePem.trim())},`,
      "  identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',",
      `  wantAssertionsSigned: ${sp.signAssertion},`,
      `  wantAuthnResponseSigned: ${sp.signResponse},`,
      ...(sp.requestsMustBeSigned ? ["  privateKey: process.env.SP_SIGNING_KEY, // requests must be signed (the key of the metadata's signing certificate)", "  signatureAlgorithm: 'sha256',"] : []),
      ...(sp.encryptAssertion ? ['  decryptionPvk: process.env.SP_ENCRYPTION_KEY, // assertions are encrypted to the metadata\'s encryption certificate'] : []),
      '});',
    ].join('\n'),
    'Shibboleth SP (shibboleth2.xml)': [
      // uri: Shibboleth's stock REMOTE_USER (the stock attribute map decodes eppn, subject-id, pairwise-id);
      // basic: mail, once attribute-map.xml maps the short name (the comment below).
      `<ApplicationDefaults entityID="${sp.entityId}" REMOTE_USER="${sp.attributeProfile === 'uri' ? 'eppn subject-id pairwise-id persistent-id' : 'mail'}">`,
      '  <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false" handlerSSL="true" cookieProps="https">',
      `    <SSO entityID="${e.entityId}">SAML2</SSO>`,
      '    <Logout>SAML2 Local</Logout>',
      '    <Handler type="MetadataGenerator" Location="/Metadata" signing="false"/>',
      '    <Handler type="Status" Location="/Status" acl="127.0.0.1 ::1"/>',
      '    <Handler type="Session" Location="/Session" showAttributeValues="false"/>',
      '  </Sessions>',
      `  <MetadataProvider type="XML" validate="true" url="${publicUrl}/saml/metadata"`,
      '                    backingFilePath="mims-idp-metadata.xml" maxRefreshDelay="7200">',
      '    <MetadataFilter type="RequireValidUntil" maxValidityInterval="1209600"/>',
      '  </MetadataProvider>',
      '  <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="attribute-map.xml"/>',
      '  <CredentialResolver type="File" use="signing" key="sp-key.pem" certificate="sp-cert.pem"/>',
      '</ApplicationDefaults>',
      sp.attributeProfile === 'uri'
        ? '<!-- this SP gets attributes by their standard URIs (attribute_profile "uri"): the stock attribute-map.xml decodes eduPersonPrincipalName (eppn), subject-id (or pairwise-id) and eduPersonScopedAffiliation (affiliation), and REMOTE_USER takes the identifier; uncomment mail, givenName, sn, displayName there for the others -->'
        : '<!-- this SP gets short attribute names (mail, givenName, ...; attribute_profile "basic"): map them in attribute-map.xml (<Attribute name="mail" nameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic" id="mail"/>), or ask for attribute_profile "uri" -->',
    ].join('\n'),
  };
}

export function devRouter(deps: DevPageDeps): Router {
  const router = new Router();
  router.get('/dev/mail.json', async (ctx) => {
    if (!deps.enabled) throw new AppError('SSPR 5404', '/dev is on in demo mode only');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { mailbox: deps.mailbox !== null, messages: (deps.mailbox?.list() ?? []).map((m) => ({ id: m.id, at: new Date(m.at).toISOString(), from: m.from, to: m.to, subject: m.subject, language: m.language, text: m.text, html: m.html })) };
  });
  router.get('/dev/mail', async (ctx) => {
    if (!deps.enabled) throw new AppError('SSPR 5404', '/dev is on in demo mode only');
    ctx.set('Cache-Control', 'no-store');
    await deps.render(ctx, 'dev-mail', { title: 'Mailbox · Developer page · MIMS Portal', mailbox: deps.mailbox !== null, messages: deps.mailbox?.list() ?? [] });
  });
  router.get('/dev', async (ctx) => {
    if (!deps.enabled) throw new AppError('SSPR 5404', '/dev is on in demo mode only');
    const { settings, samlEndpoints: e } = deps;
    const issuer = settings.server.publicUrl;
    await deps.sps.refresh(0).catch(() => {});
    const keys = deps.keys();
    const clients: DevClient[] = [
      ...deps.oidcClients.map((c) => ({
        clientId: c.client_id, name: c.display_name, origin: c.file, redirectUris: c.redirect_uris, postLogoutRedirectUris: c.post_logout_redirect_uris ?? [],
        grantTypes: c.grant_types, authMethod: c.token_endpoint_auth_method, scope: c.scope ?? '', publicClient: c.token_endpoint_auth_method === 'none',
      })),
      ...(await registeredClients(deps.store, deps.database).catch(() => [])).map((c) => ({
        clientId: String(c.client_id), name: String(c.client_name ?? c.client_id), origin: 'registered over HTTP (RFC 7591)',
        redirectUris: (c.redirect_uris as string[] | undefined) ?? [], postLogoutRedirectUris: (c.post_logout_redirect_uris as string[] | undefined) ?? [],
        grantTypes: (c.grant_types as string[] | undefined) ?? ['authorization_code'], authMethod: String(c.token_endpoint_auth_method ?? 'client_secret_basic'),
        scope: String(c.scope ?? ''), publicClient: c.token_endpoint_auth_method === 'none',
      })),
    ];
    const jwks = { keys: keys.jwks.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([name]) => PUBLIC_JWK.includes(name)))) };
    const certificates = keys.samlCertificates.map((c) => {
      const x509 = new X509Certificate(c.certificatePem);
      return {
        state: c.state, pem: c.certificatePem.replace(/\r\n/g, '\n'), subject: x509.subject, validTo: x509.validTo, fingerprint256: x509.fingerprint256,
        spki: x509.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      };
    });
    const certificatePem = keys.saml.certificatePem.replace(/\r\n/g, '\n');
    const oidcEndpoints = {
      Issuer: issuer,
      Discovery: `${issuer}/.well-known/openid-configuration`,
      Authorization: `${issuer}/oidc/auth`,
      Token: `${issuer}/oidc/token`,
      UserInfo: `${issuer}/oidc/me`,
      JWKS: `${issuer}/oidc/jwks`,
      'End session': `${issuer}/oidc/session/end`,
      'Registration (RFC 7591)': `${issuer}/oidc/reg`,
    };
    const samlEndpointList = {
      'Entity ID': e.entityId,
      Metadata: `${issuer}/saml/metadata`,
      'Single sign-on (HTTP-Redirect, HTTP-POST)': e.ssoUrl,
      'Single logout (HTTP-Redirect, HTTP-POST)': e.sloUrl,
      'Signing certificate (PEM)': `${issuer}/saml/certificate.pem`,
    };
    await deps.render(ctx, 'dev', {
      title: 'Developer page · MIMS Portal',
      issuer,
      oidcEndpoints,
      samlEndpointList,
      clients: clients.map((c) => ({ ...c, snippets: oidcSnippets(c, issuer) })),
      sps: deps.sps.all().map((sp) => ({ sp, launch: `${issuer}/saml/launch/${sp.id}`, snippets: samlSnippets(sp, e, issuer, certificatePem) })),
      jwksJson: JSON.stringify(jwks, null, 2),
      certificates,
      // What the decoder verifies against: the keys on this page, nothing fetched.
      decoderKeys: JSON.stringify({ issuer, samlEntityId: e.entityId, jwks, saml: certificates.map((c) => ({ state: c.state, spki: c.spki })) }),
      samlVerifyCommand: 'xmlsec1 --verify --pubkey-cert-pem idp.pem \\\n  --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \\\n  --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \\\n  response.xml',
    });
  });
  return router;
}
