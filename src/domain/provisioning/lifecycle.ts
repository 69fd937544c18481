// The lifecycle's scheduled steps (README "Provisioning"): moves and leaves at their date,
// leavers deleted after their population's retention period, and accounts nobody signed in
// to for the population's dormantDays disabled (with a notice to the recovery email, if any).
// A run is idempotent: each step re-checks the account inside its serialised update
// (roster.ts), so two processes running at once, or a run repeated, change nothing twice.
// The server runs it every lifecycle.runEveryMinutes under a lease in the store (one process
// of many at a time); `cli lifecycle run` runs it once. Each run is audited with its counts.
import type { Account } from '../accounts/account.ts';
import type { Directory } from '../accounts/directory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { ProvisioningRows } from '../../store/directory/provisioning.ts';
import { DAY_MS, populationOf, type Roster, type RosterContext } from './roster.ts';

export interface LifecycleReport {
  at: number;
  moved: number;
  left: number;
  deleted: number;
  dormant: number;
  /** Steps that failed (the account is retried at the next run). */
  failed: number;
}

/** Tells someone their account was disabled for not being used (to their recovery email). */
export type NotifyDormant = (account: Account) => void;

const BATCH = 200;
/** A run stops after this many steps; the next run continues (a backlog never holds one run for hours). */
const MAX_STEPS = 20_000;

export class Lifecycle {
  readonly #roster: Roster;
  readonly #rows: ProvisioningRows;
  readonly #directory: Directory;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #notifyDormant: NotifyDormant;

  constructor(deps: { roster: Roster; rows: ProvisioningRows; directory: Directory; audit: AuditLog; clock: Clock; notifyDormant: NotifyDormant }) {
    this.#roster = deps.roster;
    this.#rows = deps.rows;
    this.#directory = deps.directory;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#notifyDormant = deps.notifyDormant;
  }

  async run(actor = 'lifecycle'): Promise<LifecycleReport> {
    const now = this.#clock();
    const report: LifecycleReport = { at: now, moved: 0, left: 0, deleted: 0, dormant: 0, failed: 0 };
    const ctx: RosterContext = { actor };
    let steps = 0;
    const failedIds = new Set<string>();
    // Scheduled steps, oldest first; an account whose step failed is not tried again this run.
    for (;;) {
      const due = (await this.#rows.due(now, BATCH + failedIds.size)).filter((id) => !failedIds.has(id));
      if (due.length === 0 || steps >= MAX_STEPS) break;
      for (const id of due) {
        steps++;
        try {
          const done = await this.#step(id, now, ctx);
          if (done) report[done]++;
          else failedIds.add(id); // nothing due after all (changed meanwhile): not again this run
        } catch {
          report.failed++;
          failedIds.add(id);
        }
      }
    }
    for (const population of this.#roster.settings.populations) {
      if (population.dormantDays === null) continue;
      const before = now - population.dormantDays * DAY_MS;
      let after: string | undefined;
      while (steps < MAX_STEPS) {
        const ids = await this.#rows.unusedSince(before, BATCH, after);
        if (ids.length === 0) break;
        after = ids[ids.length - 1];
        for (const id of ids) {
          const account = await this.#directory.get(id);
          if (!account || populationOf(this.#roster.settings.populations, account) !== population) continue;
          steps++;
          try {
            const disabled = await this.#roster.disableDormant(id, before, ctx);
            if (disabled) {
              report.dormant++;
              this.#notifyDormant(disabled);
            }
          } catch {
            report.failed++;
          }
        }
      }
    }
    await this.#audit.record({ type: 'lifecycle.run', actor, reason: `moved ${report.moved}, left ${report.left}, deleted ${report.deleted}, dormant ${report.dormant}, failed ${report.failed}` });
    return report;
  }

  /** The step due for one account, done; resolves which, or null when none was due. */
  async #step(id: string, now: number, ctx: RosterContext): Promise<'moved' | 'left' | 'deleted' | null> {
    const account = await this.#directory.get(id);
    const l = account?.lifecycle;
    if (!account || !l) return null;
    if (typeof l.deleteAt === 'number' && l.deleteAt <= now) return (await this.#roster.deleteLeaver(id, ctx)) ? 'deleted' : null;
    if (typeof l.leaveAt === 'number' && l.leaveAt <= now && !l.leftAt) {
      // A move due before the leaving date happens first (the audit trail keeps both).
      if (l.move && l.move.at <= l.leaveAt) await this.#roster.applyScheduledMove(id, ctx);
      return (await this.#roster.leave(id, null, ctx)).signOut !== null ? 'left' : null;
    }
    if (l.move && l.move.at <= now) return (await this.#roster.applyScheduledMove(id, ctx)) ? 'moved' : null;
    return null;
  }
}
