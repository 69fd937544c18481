// The SAML IdP's endpoints, one file per concern.
//   GET       /saml/metadata            the IdP's metadata                         metadata.ts
//   GET       /saml/certificate.pem     the signing certificate (and -next.pem)    metadata.ts
//   GET|POST  /saml/sso                 AuthnRequest over HTTP-Redirect or HTTP-POST  sso.ts
//   GET       /saml/resume/:id          where a sign-in continues (after the login prompt too)  resume.ts
//   GET       /saml/resume/:id/abort    the user cancelled: the SP gets AuthnFailed             resume.ts
//   GET       /saml/launch/:sp          IdP-initiated sign-in (portal tiles)       launch.ts
//   GET|POST  /saml/slo                 LogoutRequest from an SP, or LogoutResponse to ours     slo.ts
//   GET       /saml/slo/request/:id     a LogoutRequest continued with this browser's cookies   slo.ts
//   GET       /saml/slo/next/:chain     the next step of a single logout           slo-chain.ts
//   GET       /saml/slo/resume          where the IdP's own OIDC logout hands over slo-chain.ts
// Every inbound message passes inbound/ before anything else happens (receive.ts). Messages
// that come by cross-site POST (no SameSite=Lax cookies) are checked, kept, and continued by
// a 303 to a GET, which has this browser's cookies.
import Router from '@koa/router';
import { crossSitePost } from '../../../http/body.ts';
import { launchHandler } from './launch.ts';
import { metadataHandlers } from './metadata.ts';
import { resumeHandlers } from './resume.ts';
import { samlScope, type SamlDeps } from './scope.ts';
import { chainHandlers } from './slo-chain.ts';
import { sloHandlers } from './slo.ts';
import { ssoHandler } from './sso.ts';

export { LOGOUT_CHAIN_COOKIE, type SamlDeps } from './scope.ts';

export function samlRouter(deps: SamlDeps): Router {
  const s = samlScope(deps);
  const router = new Router();

  const metadata = metadataHandlers(deps);
  router.get('/saml/metadata', metadata.metadata);
  router.get('/saml/certificate.pem', metadata.certificate);
  router.get('/saml/certificate-next.pem', metadata.nextCertificate);

  const sso = ssoHandler(s);
  router.get('/saml/sso', sso);
  // The bindings POST here from other sites: authenticated by SAML, not by our CSRF token.
  router.post('/saml/sso', crossSitePost, sso);

  const resume = resumeHandlers(s);
  router.get('/saml/resume/:id', resume.resume);
  router.get('/saml/resume/:id/abort', resume.abort);

  router.get('/saml/launch/:sp', launchHandler(s));

  const chain = chainHandlers(s);
  router.get('/saml/slo/next/:chain', chain.next);
  router.get('/saml/slo/resume', chain.resume);

  const slo = sloHandlers(s);
  router.get('/saml/slo', slo.slo);
  router.post('/saml/slo', crossSitePost, slo.slo);
  router.get('/saml/slo/request/:id', slo.request);

  return router;
}
