// /scim/v2: the SCIM 2.0 service provider (RFC 7644). Every request carries a provisioning
// client's bearer token (RFC 6750); bodies are JSON (application/scim+json or
// application/json, up to 1 MiB); every error is a SCIM Error message with its status.
// Mounted before the site's own forms (no CSRF token: a bearer token is no ambient credential).
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { ProvisioningClients } from '../../domain/provisioning/clients.ts';
import { isUnavailable } from '../../store/database/index.ts';
import { RosterError } from '../../domain/provisioning/roster.ts';
import { project, ScimError } from './resources.ts';
import { resourceTypes, schemaResources, serviceProviderConfig, URN } from './schemas.ts';
import type { Caller, ScimService } from './service.ts';

const PREFIX = '/scim/v2';
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';

type Json = Record<string, unknown>;

function send(ctx: Context, status: number, body: Json | null): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (body === null) return;
  ctx.type = CONTENT_TYPE;
  const version = (body.meta as Json | undefined)?.version;
  if (typeof version === 'string') ctx.set('ETag', version);
  ctx.body = body;
}

function error(ctx: Context, status: number, detail: string, scimType?: string): void {
  send(ctx, status, { schemas: [URN.error], status: String(status), ...(scimType ? { scimType } : {}), detail });
}

function list(raw: unknown): string[] | undefined {
  return typeof raw === 'string' && raw.trim() ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function intParam(raw: unknown, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^-?\d{1,40}$/.test(raw)) throw new ScimError(400, `${name} must be an integer`, 'invalidValue');
  // Out-of-range values are clamped (startIndex < 1 is 1, count is at most filter.maxResults).
  return Math.max(-1, Math.min(Number(raw), 2 ** 31));
}

/** A resource as asked (attributes / excludedAttributes), with its ETag; 304 when If-None-Match names it. */
function answer(ctx: Context, status: number, resource: Json): void {
  const version = (resource.meta as Json | undefined)?.version;
  const ifNoneMatch = ctx.get('If-None-Match');
  if (ctx.method === 'GET' && typeof version === 'string' && ifNoneMatch && ifNoneMatch.split(',').map((v) => v.trim()).some((v) => v === '*' || v === version)) {
    ctx.set('ETag', version);
    send(ctx, 304, null);
    return;
  }
  const projected = project(resource, list(ctx.query.attributes), list(ctx.query.excludedAttributes));
  send(ctx, status, projected);
  if (typeof version === 'string') ctx.set('ETag', version);
}

function answerList(ctx: Context, body: Json, given?: { attributes?: string[] | undefined; excluded?: string[] | undefined }): void {
  const attributes = given ? given.attributes : list(ctx.query.attributes);
  const excluded = given ? given.excluded : list(ctx.query.excludedAttributes);
  send(ctx, 200, { ...body, Resources: (body.Resources as Json[]).map((r) => project(r, attributes, excluded)) });
}

export interface ScimDeps {
  clients: ProvisioningClients;
  service: ScimService;
  documentationUri: string;
  onError: (err: unknown) => void;
}

export function scimMount(deps: ScimDeps): Middleware {
  const router = new Router({ prefix: PREFIX });
  const base = deps.service.base;
  const caller = (ctx: Context): Caller => ctx.state.scimCaller as Caller;
  const query = (ctx: Context) => ({ filter: typeof ctx.query.filter === 'string' ? ctx.query.filter : undefined, startIndex: intParam(ctx.query.startIndex, 'startIndex'), count: intParam(ctx.query.count, 'count') });
  const ifMatch = (ctx: Context) => ctx.get('If-Match') || undefined;

  router.get('/ServiceProviderConfig', (ctx) => answer(ctx, 200, serviceProviderConfig(base, deps.documentationUri)));
  router.get('/Schemas', (ctx) => answerList(ctx, { schemas: [URN.list], totalResults: 4, startIndex: 1, itemsPerPage: 4, Resources: schemaResources(base) }));
  router.get('/Schemas/:id', (ctx) => {
    const s = schemaResources(base).find((r) => r.id === ctx.params.id);
    if (!s) throw new ScimError(404, `Schema ${ctx.params.id} not found`);
    answer(ctx, 200, s);
  });
  router.get('/ResourceTypes', (ctx) => answerList(ctx, { schemas: [URN.list], totalResults: 2, startIndex: 1, itemsPerPage: 2, Resources: resourceTypes(base) }));
  router.get('/ResourceTypes/:id', (ctx) => {
    const r = resourceTypes(base).find((t) => t.id === ctx.params.id);
    if (!r) throw new ScimError(404, `ResourceType ${ctx.params.id} not found`);
    answer(ctx, 200, r);
  });

  router.get('/Users', async (ctx) => answerList(ctx, await deps.service.listUsers(caller(ctx), query(ctx))));
  router.post('/Users/.search', async (ctx) => answerList(ctx, await deps.service.listUsers(caller(ctx), searchBody(ctx)), searchAttributes(ctx)));
  // Bulk and /Me are not offered (ServiceProviderConfig bulk.supported false): 501 (RFC 7644 §3.7, §3.11).
  const unsupported = (ctx: Context) => error(ctx, 501, `${ctx.path.slice(PREFIX.length)} is not supported by this service provider`);
  router.all('/Bulk', unsupported);
  router.all('/Me', unsupported);
  router.post('/Users', async (ctx) => {
    const created = await deps.service.createUser(caller(ctx), ctx.request.body);
    ctx.set('Location', (created.meta as Json).location as string);
    answer(ctx, 201, created);
  });
  router.get('/Users/:id', async (ctx) => answer(ctx, 200, await deps.service.getUser(caller(ctx), ctx.params.id!)));
  router.put('/Users/:id', async (ctx) => answer(ctx, 200, await deps.service.replaceUser(caller(ctx), ctx.params.id!, ctx.request.body, ifMatch(ctx))));
  router.patch('/Users/:id', async (ctx) => answer(ctx, 200, await deps.service.patchUser(caller(ctx), ctx.params.id!, ctx.request.body, ifMatch(ctx))));
  router.delete('/Users/:id', async (ctx) => {
    await deps.service.deleteUser(caller(ctx), ctx.params.id!, ifMatch(ctx));
    send(ctx, 204, null);
  });

  router.get('/Groups', async (ctx) => answerList(ctx, await deps.service.listGroups(caller(ctx), query(ctx))));
  router.post('/Groups/.search', async (ctx) => answerList(ctx, await deps.service.listGroups(caller(ctx), searchBody(ctx)), searchAttributes(ctx)));
  router.post('/Groups', async (ctx) => {
    const created = await deps.service.createGroup(caller(ctx), ctx.request.body);
    ctx.set('Location', (created.meta as Json).location as string);
    answer(ctx, 201, created);
  });
  router.get('/Groups/:id', async (ctx) => answer(ctx, 200, await deps.service.getGroup(caller(ctx), ctx.params.id!)));
  router.put('/Groups/:id', async (ctx) => answer(ctx, 200, await deps.service.replaceGroup(caller(ctx), ctx.params.id!, ctx.request.body, ifMatch(ctx))));
  router.patch('/Groups/:id', async (ctx) => answer(ctx, 200, await deps.service.patchGroup(caller(ctx), ctx.params.id!, ctx.request.body, ifMatch(ctx))));
  router.delete('/Groups/:id', async (ctx) => {
    await deps.service.deleteGroup(caller(ctx), ctx.params.id!, ifMatch(ctx));
    send(ctx, 204, null);
  });

  const parse = bodyParser({
    enableTypes: ['json'], extendTypes: { json: ['application/scim+json', 'application/json'] }, jsonLimit: '1mb', encoding: 'utf-8',
    onError: (err) => {
      if ((err as { status?: number }).status === 413) throw new ScimError(413, 'the body is larger than 1 MiB', 'tooMany');
      throw new ScimError(400, 'the body is not valid JSON', 'invalidSyntax');
    },
  });
  const routes = router.routes() as unknown as Middleware;
  const methods = router.allowedMethods() as unknown as Middleware;

  return async (ctx, next) => {
    if (ctx.path !== PREFIX && !ctx.path.startsWith(`${PREFIX}/`)) return next();
    try {
      const auth = ctx.get('Authorization');
      const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(auth);
      const client = m ? await deps.clients.authenticate(m[1]!) : null;
      if (!client) {
        ctx.set('WWW-Authenticate', `Bearer realm="scim"${m ? ', error="invalid_token"' : ''}`);
        error(ctx, 401, m ? 'the bearer token is not a provisioning client\'s (or it was revoked)' : 'a provisioning client\'s bearer token is required');
        return;
      }
      ctx.state.scimCaller = { client, requestId: ctx.state.requestId as string | undefined, ip: ctx.ip } satisfies Caller;
      if (['POST', 'PUT', 'PATCH'].includes(ctx.method)) {
        if (!ctx.is('application/scim+json', 'application/json')) throw new ScimError(415 as number, 'send application/scim+json (or application/json)', 'invalidSyntax');
        await parse(ctx, async () => {});
      }
      await routes(ctx, async () => {
        await methods(ctx, async () => {});
      });
      if (ctx.status === 404 && ctx.body === undefined) error(ctx, 404, `no SCIM endpoint ${ctx.method} ${ctx.path}`);
      if (ctx.status === 405 || ctx.status === 501) error(ctx, ctx.status, `${ctx.method} is not supported on ${ctx.path}`);
    } catch (err) {
      if (err instanceof ScimError) return error(ctx, err.status, err.message, err.scimType);
      if (err instanceof RosterError) return error(ctx, 403, err.message);
      const status = (err as { status?: number }).status;
      if (status === 413) return error(ctx, 413, 'the body is larger than 1 MiB', 'tooMany');
      if (status === 400 || status === 415) return error(ctx, status, 'the body is not valid JSON', 'invalidSyntax');
      if (isUnavailable(err)) {
        ctx.set('Retry-After', '5');
        return error(ctx, 503, 'the directory is unavailable; try again');
      }
      deps.onError(err);
      return error(ctx, 500, `internal error (reference ${String(ctx.state.requestId ?? '')})`);
    }
  };
}

function searchBody(ctx: Context): { filter?: string; startIndex?: number; count?: number } {
  const b = (ctx.request.body ?? {}) as Json;
  const num = (v: unknown, name: string) => (v === undefined ? undefined : typeof v === 'number' && Number.isInteger(v) ? v : (() => { throw new ScimError(400, `${name} must be an integer`, 'invalidValue'); })());
  if (b.filter !== undefined && typeof b.filter !== 'string') throw new ScimError(400, 'filter must be a string', 'invalidFilter');
  return { ...(typeof b.filter === 'string' ? { filter: b.filter } : {}), ...(b.startIndex !== undefined ? { startIndex: num(b.startIndex, 'startIndex')! } : {}), ...(b.count !== undefined ? { count: num(b.count, 'count')! } : {}) };
}

/** attributes / excludedAttributes of a SearchRequest body (RFC 7644 §3.4.3). */
function searchAttributes(ctx: Context): { attributes?: string[] | undefined; excluded?: string[] | undefined } {
  const b = (ctx.request.body ?? {}) as Json;
  const names = (v: unknown, name: string) => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ScimError(400, `${name} must be a list of attribute names`, 'invalidValue');
    return v as string[];
  };
  return { attributes: names(b.attributes, 'attributes'), excluded: names(b.excludedAttributes, 'excludedAttributes') };
}
