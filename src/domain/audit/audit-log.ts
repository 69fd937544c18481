// Audit events: every state change that matters, appended to the directory's database
// (store/directory/audit.ts), kept to the newest audit.maxEvents.
// Fields are plain strings; secrets (passwords, answers, tokens) are never passed in.
// Each entry carries its schema version in a field `v` (versions.ts); entries without one are
// version 1. Entries are appended and never rewritten; readers pass every field through,
// those this release does not know included.
import type { Database } from '../../store/database/index.ts';
import { AuditRows } from '../../store/directory/audit.ts';
import type { Clock } from '../clock.ts';
import { AUDIT_VERSION, recordVersion } from '../versions.ts';

export type AuditType =
  | 'signin.success'
  | 'signin.failure'
  | 'logout'
  | 'password.rehashed'
  | 'account.created'
  | 'account.updated'
  | 'password.changed'
  | 'questions.set'
  | 'reauth.failure'
  | 'sessions.revoked'
  | 'logout.backchannel'
  | 'account.locked'
  | 'security.spraying'
  | 'account.unlocked'
  | 'forgot.started'
  | 'forgot.answers.failure'
  | 'forgot.answers.success'
  | 'forgot.throttled'
  | 'admin.password.reset'
  | 'questions.cleared'
  | 'account.disabled'
  | 'account.enabled'
  | 'admin.reauth'
  | 'admin.import'
  | 'saml.assertion'
  | 'rp.registered'
  | 'rp.removed'
  | 'mfa.added'
  | 'mfa.removed'
  | 'mfa.success'
  | 'mfa.failure'
  | 'mfa.throttled'
  | 'mfa.recovery.generated'
  | 'mfa.recovery.used'
  | 'mfa.reset'
  | 'account.class.set'
  | 'account.form_classes.set'
  | 'password.requested'
  | 'recovery_email.added'
  | 'recovery_email.changed'
  | 'recovery_email.removed'
  | 'recovery_email.code.sent'
  | 'recovery_email.code.used'
  | 'recovery_email.code.refused'
  | 'badge.issued'
  | 'badge.voided'
  | 'oidc.authorized'
  | 'privacy.notice'
  | 'account.move.scheduled'
  | 'account.moved'
  | 'account.leave.scheduled'
  | 'account.left'
  | 'account.rejoined'
  | 'account.dormant'
  | 'account.deleted'
  | 'lifecycle.run'
  | 'provisioning.client.added'
  | 'provisioning.client.revoked'
  | 'class.created'
  | 'class.renamed'
  | 'class.deleted'
  | 'roster.import'
  | 'privacy.release.set';

export interface AuditEvent {
  type: AuditType;
  accountId?: string | undefined;
  loginId?: string | undefined;
  client?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  reason?: string | undefined;
  actor?: string | undefined;
  /** The actor's name when someone acted on another's account (an administrator, a form teacher). */
  actorName?: string | undefined;
}

export interface StoredAuditEvent extends AuditEvent {
  id: string;
  at: string;
  /** Schema version of the entry (1 for entries written without one). */
  v: number;
}

export class AuditLog {
  readonly #rows: AuditRows;
  readonly #clock: Clock;
  readonly #maxEvents: number;

  constructor(database: Database, clock: Clock, maxEvents: number) {
    this.#rows = new AuditRows(database);
    this.#clock = clock;
    this.#maxEvents = maxEvents;
  }

  async record(event: AuditEvent): Promise<void> {
    const fields: Record<string, string> = { v: String(AUDIT_VERSION), at: new Date(this.#clock()).toISOString() };
    for (const [k, v] of Object.entries(event)) if (v !== undefined && v !== '' && k !== 'v') fields[k] = String(v);
    await this.#rows.append(fields, this.#maxEvents);
  }

  /** Newest first. */
  async recent(count: number, filter?: (e: StoredAuditEvent) => boolean): Promise<StoredAuditEvent[]> {
    const out: StoredAuditEvent[] = [];
    let before: string | undefined;
    while (out.length < count) {
      const page = await this.#rows.recent(500, before);
      if (page.length === 0) break;
      for (const { id, fields } of page) {
        const event = { ...fields, id, v: recordVersion(fields) } as unknown as StoredAuditEvent;
        if (!filter || filter(event)) out.push(event);
        if (out.length >= count) break;
      }
      before = page[page.length - 1]!.id;
    }
    return out;
  }
}
