// workspace-sim: a Google-Workspace-like dashboard ("Student iCON") for trying the IdP,
// a SAML service provider built on @node-saml/node-saml (an implementation independent
// of the IdP's samlify) and written only against the IdP's public SAML endpoints, whose
// metadata it fetches like any SP would.
// Like Google: SP-initiated sign-in with an unsigned AuthnRequest over HTTP-Redirect; a
// signed Response required; a "Welcome to your new account" page on an account's first
// visit; apps by level from the assertion's attributes; sign-out by SAML single logout
// (and, unlike Google, back-channel logout over SOAP: an administrator's reset at the IdP
// ends the session here too); and, for testers, a panel with the NameID and attributes
// it received.
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import Koa, { type Context } from 'koa';
import type { SimMessageId } from '../messages.ts';
import { cookieSessions, languageRoute, pageRenderer } from '../web.ts';
import { appsFor, bandOf, MAIL_DOMAINS_P4_P6 } from './apps.ts';
import { workspaceEntityId, workspaceSpMetadata } from './metadata.ts';

export interface WorkspaceSimOptions {
  /** Where the sim is reached, e.g. http://localhost:3001 */
  publicUrl: string;
  /** The IdP's SAML metadata URL, e.g. http://localhost:3000/saml/metadata */
  idpMetadataUrl: string;
  /** The sim's own key pair: signs its LogoutRequests and LogoutResponses. */
  keys: { privateKeyPem: string; certificatePem: string };
  viewsDir: string;
}

interface SimSession {
  id: string;
  profile?: Profile;
  attributes?: Record<string, string[]>;
}

interface IdpInfo {
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
  certificates: string[];
}

const COOKIE = 'workspace_sim';
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP_MAX_BYTES = 64 * 1024;

function soapEnvelope(inner: string): string {
  return `<soap11:Envelope xmlns:soap11="${SOAP_ENV}"><soap11:Body>${inner}</soap11:Body></soap11:Envelope>`;
}

/** The one element in a SOAP 1.1 Body, serialised on its own (with the namespaces it uses). */
function soapBodyElement(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const envelope = doc.documentElement;
  if (!envelope || envelope.namespaceURI !== SOAP_ENV || envelope.localName !== 'Envelope') throw new Error('not a SOAP envelope');
  const body = Array.from(envelope.childNodes).find((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === SOAP_ENV && (n as Element).localName === 'Body');
  const inner = body ? Array.from(body.childNodes).filter((n): n is Element => n.nodeType === 1) : [];
  if (inner.length !== 1) throw new Error('the SOAP Body must hold one element');
  return new XMLSerializer().serializeToString(inner[0]!);
}

/** An enveloped RSA-SHA256 signature over the root, after its Issuer (as node-saml signs). */
function signRoot(xml: string, keys: { privateKeyPem: string; certificatePem: string }): string {
  const sig = new SignedXml({ privateKey: keys.privateKeyPem, publicCert: keys.certificatePem });
  sig.signatureAlgorithm = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
  sig.canonicalizationAlgorithm = 'http://www.w3.org/2001/10/xml-exc-c14n#';
  sig.addReference({
    xpath: '/*',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: "/*/*[local-name(.)='Issuer']", action: 'after' } });
  return sig.getSignedXml();
}

/** Reads what an SP needs from the IdP's metadata. */
export function readIdpMetadata(xml: string): IdpInfo {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const entity = doc.getElementsByTagNameNS(MD, 'EntityDescriptor')[0];
  const idp = doc.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0];
  if (!entity || !idp) throw new Error('not IdP metadata');
  const location = (name: string) =>
    Array.from(idp.getElementsByTagNameNS(MD, name)).find((e) => e.getAttribute('Binding') === REDIRECT)?.getAttribute('Location') ?? '';
  const certificates = Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))
    .filter((k) => k.getAttribute('use') !== 'encryption')
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(DS, 'X509Certificate')).map((c) => (c.textContent ?? '').replace(/\s+/g, '')));
  return { entityId: entity.getAttribute('entityID') ?? '', ssoUrl: location('SingleSignOnService'), sloUrl: location('SingleLogoutService'), certificates };
}

function attributesOf(profile: Profile): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(profile.attributes ?? {})) {
    out[name] = (Array.isArray(value) ? value : [value]).map(String);
  }
  return out;
}

export function createWorkspaceSim(options: WorkspaceSimOptions) {
  /** Accounts that have accepted the terms ("If you have logged into your account before, you will not see this screen"). */
  const welcomed = new Set<string>();
  const entityId = workspaceEntityId(options.publicUrl);
  const metadataXml = workspaceSpMetadata(options.publicUrl, options.keys.certificatePem);

  let clients: Promise<{ idp: IdpInfo; login: SAML; logout: SAML }> | undefined;
  // Fetched again after the metadata's cacheDuration (PT4H), as an SP should: a rotated
  // signing certificate reaches it during the overlap (README "Key rotation").
  let fetchedAt = 0;
  const saml = () => {
    if (clients && Date.now() - fetchedAt > 4 * 3600_000) clients = undefined;
    clients ??= (async () => {
      fetchedAt = Date.now();
      const res = await fetch(options.idpMetadataUrl);
      if (!res.ok) throw new Error(`IdP metadata: HTTP ${res.status}`);
      const idp = readIdpMetadata(await res.text());
      const common = {
        issuer: entityId,
        audience: entityId,
        callbackUrl: `${options.publicUrl}/saml/acs`,
        idpCert: idp.certificates,
        idpIssuer: idp.entityId,
        entryPoint: idp.ssoUrl,
        logoutUrl: idp.sloUrl,
        identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        wantAuthnResponseSigned: true,
        wantAssertionsSigned: false,
        disableRequestedAuthnContext: true,
        validateInResponseTo: ValidateInResponseTo.ifPresent,
        acceptedClockSkewMs: 60_000,
        signatureAlgorithm: 'sha256' as const,
      };
      // Google does not sign AuthnRequests; logout messages are signed (the IdP requires it).
      return { idp, login: new SAML(common), logout: new SAML({ ...common, privateKey: options.keys.privateKeyPem, publicCert: options.keys.certificatePem }) };
    })().catch((err: unknown) => {
      clients = undefined; // try again next time (the IdP may not be up yet)
      throw err;
    });
    return clients;
  };

  const render = pageRenderer(options.viewsDir);

  const simSessions = cookieSessions<SimSession>(COOKIE);
  const { sessions } = simSessions;
  const session = simSessions.of;

  /** Ends the sessions a (verified) LogoutRequest names: its NameID, and its SessionIndex if any. */
  const endSessionsOf = (profile: Profile) => {
    for (const [id, s] of sessions) {
      if (s.profile?.nameID === profile.nameID && (!profile.sessionIndex || s.profile.sessionIndex === profile.sessionIndex)) sessions.delete(id);
    }
  };

  /** The sim's error page: what failed in the browser's language, the library's detail as it is. */
  const failed = (ctx: Context, what: 'start' | 'sign_in' | 'sign_out' | 'slo', err: unknown) =>
    render(ctx, 'error', { messageId: `error.failed.${what}` satisfies SimMessageId, params: { detail: (err as Error).message } }, 400);

  const router = new Router();
  languageRoute(router);

  router.get('/', async (ctx) => {
    const s = session(ctx);
    if (!s.profile) return render(ctx, 'home', {});
    const nameId = s.profile.nameID;
    if (!welcomed.has(nameId)) return ctx.redirect('/welcome');
    const level = s.attributes?.level?.[0];
    await render(ctx, 'dashboard', {
      email: nameId,
      name: s.attributes?.displayName?.[0] ?? nameId,
      school: s.attributes?.school?.[0] ?? '',
      level: level ?? '',
      band: bandOf(level),
      apps: appsFor(level),
      mailDomains: MAIL_DOMAINS_P4_P6,
      details: { issuer: s.profile.issuer, nameID: nameId, nameIDFormat: s.profile.nameIDFormat, sessionIndex: s.profile.sessionIndex ?? '', attributes: s.attributes ?? {} },
    });
  });

  router.get('/saml/metadata', (ctx) => {
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = metadataXml;
  });

  // "Enter your Student iCON email address. Click 'Next'": then the school's IdP.
  router.get('/login', async (ctx) => {
    try {
      const { login } = await saml();
      ctx.redirect(await login.getAuthorizeUrlAsync('/', undefined, {}));
    } catch (err) {
      await failed(ctx, 'start', err);
    }
  });

  router.post('/saml/acs', async (ctx) => {
    try {
      const { login } = await saml();
      const { profile } = await login.validatePostResponseAsync(ctx.request.body as Record<string, string>);
      if (!profile) throw new Error('no profile in the response');
      const s = session(ctx);
      s.profile = profile;
      s.attributes = attributesOf(profile);
    } catch (err) {
      return failed(ctx, 'sign_in', err);
    }
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.get('/welcome', async (ctx) => {
    const s = session(ctx);
    if (!s.profile) return ctx.redirect('/');
    await render(ctx, 'welcome', { email: s.profile.nameID });
  });

  router.post('/welcome', async (ctx) => {
    const s = session(ctx);
    if (s.profile) welcomed.add(s.profile.nameID);
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.post('/logout', async (ctx) => {
    const s = session(ctx);
    if (!s.profile) return ctx.redirect('/');
    try {
      const { logout } = await saml();
      ctx.redirect(await logout.getLogoutUrlAsync(s.profile, '/', {}));
    } catch (err) {
      await failed(ctx, 'sign_out', err);
    }
  });

  // Single logout, HTTP-Redirect: the IdP's LogoutResponse to our LogoutRequest, or the
  // IdP's LogoutRequest when the user signed out somewhere else.
  router.get('/saml/slo', async (ctx) => {
    try {
      const { logout } = await saml();
      const { profile, loggedOut } = await logout.validateRedirectAsync(ctx.query, ctx.querystring);
      if (loggedOut && !ctx.query.SAMLRequest) {
        // Our own sign-out has been confirmed by the IdP.
        simSessions.end(ctx);
        return render(ctx, 'signed-out', {});
      }
      if (!profile) throw new Error('no logout request');
      endSessionsOf(profile);
      const relayState = typeof ctx.query.RelayState === 'string' ? ctx.query.RelayState : '';
      ctx.redirect(await logout.getLogoutResponseUrlAsync(profile, relayState, {}, true));
    } catch (err) {
      await failed(ctx, 'slo', err);
    }
  });

  // Single logout, SOAP (saml-bindings 3.2): the IdP, server to server, when it ended the
  // session without the browser. node-saml checks the LogoutRequest as it would one by
  // HTTP-POST (the IdP's signature, Issuer, NotOnOrAfter); the answer is a signed
  // LogoutResponse in a SOAP envelope (a SOAP Fault when the request is refused).
  router.post('/saml/slo/soap', async (ctx) => {
    ctx.type = 'text/xml; charset=utf-8';
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > SOAP_MAX_BYTES) throw new Error('message too large');
        chunks.push(chunk);
      }
      const request = soapBodyElement(Buffer.concat(chunks).toString('utf8'));
      const { logout } = await saml();
      const { profile } = await logout.validatePostRequestAsync({ SAMLRequest: Buffer.from(request, 'utf8').toString('base64') });
      endSessionsOf(profile);
      // node-saml writes an XML declaration, which has no place inside the SOAP Body.
      const response = logout._generateLogoutResponse(profile, true).replace(/^<\?xml[^>]*\?>\s*/, '');
      ctx.body = soapEnvelope(signRoot(response, options.keys));
    } catch (err) {
      ctx.status = 500;
      const message = (err as Error).message.replace(/[<&]/g, ' ');
      ctx.body = soapEnvelope(`<soap11:Fault><faultcode>soap11:Client</faultcode><faultstring>${message}</faultstring></soap11:Fault>`);
    }
  });

  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['form'] }));
  app.use(router.routes()).use(router.allowedMethods());
  return { app, sessions, metadataXml, entityId };
}
