// /admin: school and ministry administrators, signed in through the same SSO session.
//   GET  /admin                              find accounts (login ID or name prefix)   search.ts
//   GET  /admin/accounts/:id                 an account's state and recent events      accounts.ts
//   GET  /admin/accounts/:id/:action         confirmation page                         accounts.ts
//   POST /admin/accounts/:id/:action         reset-password | unlock | clear-questions | disable | enable
//   GET  /admin/import                       CSV upload form                           import.ts
//   POST /admin/import/preview               upload and preview (multipart)            import.ts
//   POST /admin/import/:id/commit            commit; answers the temporary passwords   import.ts
//   GET  /admin/audit[?account=&type=&format=csv]                                      audit.ts
//   GET  /admin/accounts/:id/access[?format=csv]  which apps received what, when        access.ts
//   GET  /admin/apps, POST /admin/apps/release      what each app may receive of pupils   releases.ts
//   GET  /admin/lifecycle, POST /admin/lifecycle/run  the roster's scheduled steps        lifecycle.ts
//   GET  /admin/classes, /admin/classes/:school/:year/:name, POST …/slips              classes.ts
//   POST /admin/accounts/:id/class      a student's class, a teacher's form classes   classes.ts
//   GET  /admin/requests                temporary passwords form teachers asked for   classes.ts
//   POST …/badges, …/badges/void, /admin/accounts/:id/{print,void}-badge, /admin/badges/void
//                                       sign-in badges: print, void                   badges.ts
// Every page starts from the signed-in administrator or form teacher (signed-in.ts). The
// scope rule (own school; all for a ministry administrator; a form teacher's classes'
// students) and what each may do are enforced by domain/admin/administration.ts for every
// account and class touched, whatever the URL says.
import Router from '@koa/router';
import { multipartUpload } from '../http/body.ts';
import { accountHandlers } from './accounts.ts';
import { accessReportHandler } from './access.ts';
import { auditHandler } from './audit.ts';
import { badgeHandlers } from './badges.ts';
import { classHandlers } from './classes.ts';
import { importHandlers } from './import.ts';
import { lifecycleHandlers } from './lifecycle.ts';
import { releaseHandlers } from './releases.ts';
import { searchHandler } from './search.ts';
import type { AdminDeps } from './signed-in.ts';

export type { AdminDeps } from './signed-in.ts';

export function adminRouter(deps: AdminDeps): Router {
  const router = new Router();

  router.get('/admin', searchHandler(deps));

  const classes = classHandlers(deps);
  router.get('/admin/classes', classes.list);
  router.get('/admin/classes/:school/:year/:name', classes.show);
  router.post('/admin/classes/:school/:year/:name/slips', classes.slips);
  router.post('/admin/accounts/:id/class', classes.setClass);
  router.get('/admin/requests', classes.requests);

  const badges = badgeHandlers(deps);
  router.post('/admin/classes/:school/:year/:name/badges', badges.printClass);
  router.post('/admin/classes/:school/:year/:name/badges/void', badges.voidClass);
  router.post('/admin/accounts/:id/print-badge', badges.printAccount);
  router.post('/admin/accounts/:id/void-badge', badges.voidAccount);
  router.post('/admin/badges/void', badges.voidSchool);

  router.get('/admin/accounts/:id/access', accessReportHandler(deps));

  const releases = releaseHandlers(deps);
  router.get('/admin/apps', releases.list);
  router.post('/admin/apps/release', releases.choose);

  const lifecycle = lifecycleHandlers(deps);
  router.get('/admin/lifecycle', lifecycle.show);
  router.post('/admin/lifecycle/run', lifecycle.run);

  const accounts = accountHandlers(deps);
  router.get('/admin/accounts/:id', accounts.show);
  router.get('/admin/accounts/:id/:action', accounts.confirm);
  router.post('/admin/accounts/:id/:action', accounts.act);

  const imports = importHandlers(deps);
  router.get('/admin/import', imports.form);
  router.post('/admin/import/preview', multipartUpload, imports.preview);
  router.post('/admin/import/:id/commit', imports.commit);

  router.get('/admin/audit', auditHandler(deps));

  return router;
}
