// Request bodies, declared per route. By default a route that takes a body takes one of our
// own forms: parsed, and its CSRF token checked (web/forms.ts). A route says otherwise by
// carrying one of these markers in its middleware:
//   crossSitePost     POSTs from other sites (SAML bindings): authenticated by the protocol,
//                     not by our token; parsed here, by the route
//   multipartUpload   a multipart body is parsed by the route, which checks the token itself
import bodyParser from '@koa/bodyparser';
import type { Middleware } from 'koa';

/** Form and JSON bodies up to 64 KiB (UTF-8). */
export const parseBody: Middleware = bodyParser({ enableTypes: ['form', 'json'], formLimit: '64kb', jsonLimit: '64kb', encoding: 'utf-8' });

/** This route takes POSTs from other sites: its body is parsed, no CSRF token is asked. */
export const crossSitePost: Middleware = (ctx, next) => parseBody(ctx, next);

/** This route parses a multipart body itself and checks its CSRF token itself. */
export const multipartUpload: Middleware = (_ctx, next) => next();
