// What ending an account's sessions without a browser (an administrator's reset or
// disable, a password change, the CLI) told the relying parties of those sessions. Only
// a server-to-server message can reach them then: OIDC back-channel logout, SAML
// LogoutRequests over SOAP. An app without either cannot be told, and an app that did not
// answer "done" was not told: pages say so by name instead of "signed out everywhere".
import type { EndedSession, SessionParticipants } from './sso-sessions.ts';

/**
 * told: the app acknowledged (OIDC: 200 to the logout token; SAML: a LogoutResponse with
 * status Success that passed every inbound check). failed: it was tried and did not
 * acknowledge (unreachable, timeout, an error status, a refused or non-Success response).
 * cannot-tell: it offers no back-channel sign-out (or is no longer registered).
 */
export type NoticeOutcome = 'told' | 'failed' | 'cannot-tell';

export interface RelyingPartyNotice {
  protocol: 'oidc' | 'saml';
  /** client_id or SP id (audit, logs). */
  id: string;
  /** Display name (pages). */
  name: string;
  outcome: NoticeOutcome;
  /** Why not told, for the log and the audit trail (never a secret). */
  detail?: string | undefined;
  /** cannot-tell because it signs out only through the user's browser (front-channel SLO). */
  browserOnly?: boolean | undefined;
}

export interface SignOutReport {
  /** Live SSO sessions that ended. */
  sessionsEnded: number;
  /** One per relying party: the worst outcome of its attempts. */
  notices: RelyingPartyNotice[];
}

export interface TellRequest {
  accountId: string;
  ended: EndedSession[];
  /** The participants of the session that stays (a password change in the SSPR app). */
  kept: SessionParticipants | null;
  actor?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
}

/** Tells the relying parties of ended sessions, server to server; never throws. */
export type TellRelyingParties = (request: TellRequest) => Promise<RelyingPartyNotice[]>;

const RANK: Record<NoticeOutcome, number> = { told: 0, 'cannot-tell': 1, failed: 2 };

/** One notice per relying party (by protocol and id), keeping its worst outcome. */
export function mergeNotices(notices: RelyingPartyNotice[]): RelyingPartyNotice[] {
  const byRp = new Map<string, RelyingPartyNotice>();
  for (const n of notices) {
    const key = `${n.protocol}:${n.id}`;
    const seen = byRp.get(key);
    if (!seen || RANK[n.outcome] > RANK[seen.outcome]) byRp.set(key, n);
  }
  return [...byRp.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** What the pages and the CLI show: names of apps told, and of apps not told with why. */
export function describeReport(report: SignOutReport): { told: string[]; notTold: Array<{ name: string; why: string }> } {
  return {
    told: report.notices.filter((n) => n.outcome === 'told').map((n) => n.name),
    notTold: report.notices
      .filter((n) => n.outcome !== 'told')
      .map((n) => ({ name: n.name, why: n.outcome === 'failed' ? 'did not confirm' : n.browserOnly ? 'cannot be told without the user’s browser' : 'has no back-channel sign-out' })),
  };
}
