// `import-oneroster FILE.zip`: a OneRoster 1.2 CSV bulk export into the directory
// (domain/provisioning/oneroster.ts). Prints the report of every file (errors and warnings
// with their line), the counts and the changes; then, unless --dry-run, commits as one job,
// its progress on stderr. Exit 0 when everything asked was done, 1 when a file has errors
// (nothing is imported), another import runs, or a change failed; 2 for a usage error.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadSettings } from '../config/settings.ts';
import { OneRosterBusyError, OneRosterFileError, OneRosterImport, OneRosterInterruptedError, planReport, type Plan } from '../domain/provisioning/oneroster.ts';
import { systemClock } from '../domain/clock.ts';
import type { Services } from '../services.ts';
import type { Store } from '../store/index.ts';

export const ONEROSTER_USAGE = `  import-oneroster <file.zip> [--source NAME] [--dry-run] [--json] [--skip-errors] [--allow-mass-leave]
                                                       a OneRoster 1.2 CSV bulk export: per-file report, then one commit`;

export const ONEROSTER_COMMANDS = new Set(['import-oneroster']);

/** Changes listed one per line before the rest are only counted (--json lists all). */
const LISTED = 200;

function usage(message: string, err: (line: string) => void): number {
  err(message);
  err(`usage:\n${ONEROSTER_USAGE}`);
  return 2;
}

export function describePlan(plan: Plan, out: (line: string) => void): void {
  for (const f of plan.files) {
    out(`${f.file}: ${f.rows} line(s), ${f.errors.length} error(s), ${f.warnings.length} warning(s), ${f.skipped} skipped`);
    for (const e of f.errors) out(`  ${f.file}${e.line ? ` line ${e.line}` : ''}: error: ${e.message}`);
    for (const w of f.warnings) out(`  ${f.file}${w.line ? ` line ${w.line}` : ''}: warning: ${w.message}`);
  }
  const c = plan.counts;
  out(`schools: ${plan.schools.map((s) => s.code).join(', ')}`);
  out(`users: create ${c.create}, update ${c.update}, move ${c.move}, leave ${c.leave}, unchanged ${c.unchanged}, skipped ${c.skipped}, error ${c.error}`);
  const k = plan.classCounts;
  out(`homeroom classes: create ${k.create}, link ${k.update}, unchanged ${k.unchanged}, skipped ${k.skipped}, error ${k.error}`);
  const changes = plan.users.filter((u) => u.kind !== 'unchanged' && u.kind !== 'create');
  for (const u of changes.slice(0, LISTED)) out(`  ${u.kind} ${u.loginId} (${u.sourcedId}${u.line ? `, users.csv line ${u.line}` : ''}): ${u.steps.join('; ')}`);
  if (changes.length > LISTED) out(`  … and ${changes.length - LISTED} more (--json lists every change)`);
}

export async function oneRosterCommand(argv: string[], out: (line: string) => void, open: (command: string) => Promise<{ store: Store; services: Services; close?: () => Promise<void> }>, err: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(1), allowPositionals: true,
      options: { source: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'skip-errors': { type: 'boolean' }, 'allow-mass-leave': { type: 'boolean' } },
    });
  } catch (e) {
    return usage((e as Error).message, err);
  }
  const { positionals, values } = parsed;
  const [file, extra] = positionals;
  if (!file || extra !== undefined) return usage('import-oneroster needs one zip file', err);
  let zip: Buffer;
  try {
    zip = readFileSync(file);
  } catch (e) {
    err(`cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  const settings = loadSettings();
  const { store, services: s, close } = await open('import-oneroster');
  const actorName = `cli:${userInfo().username}`;
  try {
    const importer = new OneRosterImport({
      directory: s.directory, roster: s.roster, rows: s.provisioningRows, database: s.database, audit: s.audit,
      store, clock: systemClock, settings: { domainsByRole: settings.import.domainsByRole },
    });
    let plan: Plan;
    try {
      plan = await importer.plan(zip, { ...(values.source ? { source: values.source } : {}), allowMassLeave: values['allow-mass-leave'] === true });
    } catch (e) {
      if (!(e instanceof OneRosterFileError)) throw e;
      if (values.json) out(JSON.stringify({ refused: e.message }));
      err(`${file}: ${e.message}`);
      return 1;
    }
    if (values.json) out(JSON.stringify(planReport(plan), null, 2));
    else describePlan(plan, out);
    if (values['dry-run']) {
      if (!values.json) out(plan.errors > 0 ? `dry run: ${plan.errors} error(s) to fix (or commit with --skip-errors to leave those lines out)` : 'dry run: nothing was changed; run again without --dry-run to commit');
      return plan.errors > 0 ? 1 : 0;
    }
    if (plan.refusals.length || (plan.errors > 0 && !values['skip-errors'])) {
      err(plan.refusals.length ? plan.refusals.join('\n') : `${plan.errors} error(s): nothing was imported (fix them, or run with --skip-errors to leave those lines out)`);
      return 1;
    }
    const tty = process.stderr.isTTY === true;
    let lastLine = 0;
    const result = await importer.apply(plan, {
      allowErrors: values['skip-errors'] === true,
      actorName,
      onProgress: ({ done, total }) => {
        const line = `committing: ${done}/${total} (${total ? Math.floor((done * 100) / total) : 100} %)`;
        if (tty) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
        else if (done === total || Date.now() - lastLine > 5_000) {
          lastLine = Date.now();
          err(line);
        }
      },
    });
    if (values.json) out(JSON.stringify({ committed: result }, null, 2));
    else {
      const c = result.counts;
      out(`committed in ${(result.ms / 1000).toFixed(1)} s: created ${c.create}, updated ${c.update}, moved ${c.move}, left ${c.leave}, unchanged ${c.unchanged}; classes created ${result.classes.created}, linked ${result.classes.linked}; failed ${result.failed.length}`);
      for (const f of result.failed) out(`  failed ${f.loginId || f.sourcedId}${f.line ? ` (line ${f.line})` : ''}: ${f.message}`);
      if (result.failed.length) out('run the same import again to retry those');
    }
    return result.failed.length ? 1 : 0;
  } catch (e) {
    if (e instanceof OneRosterBusyError || e instanceof OneRosterInterruptedError || e instanceof OneRosterFileError) {
      err(e.message);
      return 1;
    }
    throw e;
  } finally {
    await close?.();
    await store.close();
  }
}
