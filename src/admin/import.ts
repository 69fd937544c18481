// Importing accounts from a CSV file: upload and preview, then commit, which answers with
// the temporary passwords as a CSV file (the only place they ever exist).
//   GET  /admin/import              the upload form
//   POST /admin/import/preview      multipart upload: parsed here, and its CSRF token checked here
//   POST /admin/import/:id/commit   one commit per preview
import type { RouterContext } from '@koa/router';
import multer from '@koa/multer';
import { csvFile } from '../domain/csv.ts';
import type { Context } from 'koa';
import { ImportFileError, ImportInterruptedError, MAX_BYTES } from '../domain/admin/import.ts';
import { AppError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { keys } from '../store/index.ts';
import { ctxOf, signedInAdmin, who, type AdminDeps } from './signed-in.ts';

const PENDING_MS = 30 * 60_000;

export function importHandlers(deps: AdminDeps) {
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_BYTES, files: 1, fields: 5, parts: 8 } });

  const form = async (ctx: Context) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'import');
    await deps.render(ctx, 'admin/import', { admin: who(a, deps) });
  };

  const preview = async (ctx: Context) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'import');
    try {
      await upload.single('file')(ctx, async () => {});
    } catch (err) {
      throw new AppError('SSPR 5103', `upload refused: ${(err as Error).message}`, { continueTo: '/admin/import' });
    }
    if (!deps.csrfValid(ctx, (ctx.request as { body?: Record<string, unknown> }).body?._csrf)) throw new AppError('SSPR 5104', 'CSRF token missing on import');
    const file = (ctx as unknown as { file?: { buffer: Buffer } }).file;
    if (!file) throw new AppError('SSPR 5103', 'no file uploaded', { continueTo: '/admin/import' });
    let preview;
    try {
      preview = await deps.importer.preview(file.buffer, a.scope);
    } catch (err) {
      if (!(err instanceof ImportFileError)) throw err;
      await deps.render(ctx, 'admin/import', { admin: who(a, deps), fileError: err.message }, 400);
      return;
    }
    let importId: string | null = null;
    if (preview.counts.error === 0 && preview.counts.create + preview.counts.update > 0) {
      importId = newId();
      await deps.store.set(keys.pendingImport(importId), JSON.stringify({ adminId: a.actor.id, data: file.buffer.toString('base64') }), { ttlMs: PENDING_MS });
    }
    await deps.render(ctx, 'admin/import-preview', { admin: who(a, deps), preview, rows: preview.rows.slice(0, 1000), importId }, preview.counts.error > 0 ? 400 : 200);
  };

  const commit = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'import');
    const key = keys.pendingImport(ctx.params.id ?? '');
    const raw = /^[A-Za-z0-9_-]{16,64}$/.test(ctx.params.id ?? '') ? await deps.store.get(key) : null;
    const pending = raw ? (JSON.parse(raw) as { adminId: string; data: string }) : null;
    if (!pending || pending.adminId !== a.actor.id) throw new AppError('SSPR 5101', 'import preview expired or not yours', { continueTo: '/admin/import' });
    // One commit per preview, even if the button is pressed twice.
    await deps.store.del(key);
    let result;
    let interrupted = false;
    try {
      result = await deps.importer.commit(Buffer.from(pending.data, 'base64'), a.scope, a.actor.id);
    } catch (err) {
      if (err instanceof ImportInterruptedError) {
        // The store failed part-way: what was created is confirmed, and its passwords exist
        // only here. Hand them out as a partial file; importing the file again does the rest.
        interrupted = true;
        result = { passwords: err.passwords, counts: { create: 0, update: 0, unchanged: 0, error: 0 } };
      } else {
        if (!(err instanceof ImportFileError)) throw err;
        await deps.render(ctx, 'admin/import', { admin: who(a, deps), fileError: err.message }, 409);
        return;
      }
    }
    if (!interrupted) await deps.audit.record({ type: 'admin.import', accountId: a.actor.id, actor: a.actor.id, reason: `created ${result.passwords.length}, updated ${result.counts.update}, unchanged ${result.counts.unchanged}`, ...ctxOf(ctx) });
    ctx.set('Cache-Control', 'no-store');
    const filename = `temporary-passwords-${interrupted ? 'PARTIAL-' : ''}${new Date(deps.clock()).toISOString().slice(0, 10)}.csv`;
    const csv = csvFile(['loginId', 'temporaryPassword'], result.passwords.map((p) => [p.loginId, p.temporaryPassword]));
    if (ctx.accepts('text/csv', 'text/html') === 'text/html') {
      // A browser: a page that says what happened, downloads the file by itself (idp.js;
      // a link to click otherwise) and can print the new accounts' sign-in slips.
      const created = await Promise.all(result.passwords.map(async (p) => ({ p, account: await deps.directory.findByLoginId(p.loginId) })));
      const slips = created.filter((c) => c.account).map(({ p, account }) => ({ name: account!.displayName, loginId: p.loginId, className: account!.class?.name ?? '', school: account!.school.name, temporaryPassword: p.temporaryPassword, questionsSet: false, temporaryUntil: account!.temporaryUntil ?? null }));
      await deps.render(ctx, 'admin/import-done', { admin: who(a, deps), interrupted, counts: { created: result.passwords.length, updated: result.counts.update, unchanged: result.counts.unchanged }, filename, csvData: Buffer.from(csv).toString('base64'), slips, portalUrl: deps.portalUrl });
      return;
    }
    ctx.set('X-Import-Summary', interrupted ? `interrupted; created=${result.passwords.length}; import the same file again for the rest` : `created=${result.passwords.length}; updated=${result.counts.update}; unchanged=${result.counts.unchanged}`);
    ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.type = 'text/csv; charset=utf-8';
    // Generated once: this response is the only place the temporary passwords exist.
    ctx.body = csv;
  };

  return { form, preview, commit };
}
