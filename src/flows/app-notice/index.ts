// The first-use notice (issue 29, privacy): before an app receives anything of a person who
// must be told first (privacy.noticeRoles, e.g. pupils), the person is told, in their
// language, which app it is and what it will receive ("Student Learning Space will receive:
// your name; your school and level"). Once per app and person; the gate asks for it
// (domain/sessions/gate.ts, app_notice) where a protocol hands data to an app.
//
//   step         action (POST /flow/:id/…)   leads to
//   app-notice   app-notice/continue         next   (recorded on the account; audited)
//   finish: the SSO session goes on as it was; the browser goes back to the app's request.
//   cancel: the app is told the user cancelled.
import { AppError } from '../../domain/errors.ts';
import type { MessageId } from '../../messages/catalogue.ts';
import { flowAccount, requestOf, type FlowKindSpec } from '../machine.ts';

/** How many apps an account remembers having been told about (the oldest are forgotten first). */
const MAX_NOTICED = 200;

/** What a claim or attribute name is, in words a child understands (message ids). */
const WORDS: Record<string, MessageId> = {
  name: 'notice.receives.name', given_name: 'notice.receives.name', family_name: 'notice.receives.name', displayName: 'notice.receives.name', givenName: 'notice.receives.name', sn: 'notice.receives.name',
  email: 'notice.receives.email', email_verified: 'notice.receives.email', mail: 'notice.receives.email',
  school: 'notice.receives.school', level: 'notice.receives.school',
  roles: 'notice.receives.role', role: 'notice.receives.role',
  locale: 'notice.receives.language',
};

/** The notice's lines for what an app receives: a code that tells it who you are, then each kind of data once. */
export function receivedWords(receives: readonly string[]): MessageId[] {
  const lines: MessageId[] = ['notice.receives.id'];
  for (const name of receives) {
    const id = WORDS[name];
    if (id && !lines.includes(id)) lines.push(id);
  }
  return lines;
}

export const appNotice: FlowKindSpec = {
  kind: 'app-notice',
  table: {
    'app-notice': {
      'app-notice/continue': {
        to: ['next'],
        run: async (s, flow, input) => {
          if (!flow.app) throw new AppError('SSPR 5102', 'app-notice without its app');
          const account = await flowAccount(s, flow);
          const key = flow.app.key;
          const receives = s.releases ? await s.releases.filter(key, account.school.code, flow.app.receives) : flow.app.receives;
          await s.directory.update(account.id, (a) => ({ ...a, appsNoticed: [...(a.appsNoticed ?? []).filter((k) => k !== key), key].slice(-MAX_NOTICED) }));
          await s.audit.record({ type: 'privacy.notice', accountId: account.id, client: key, reason: `told what ${flow.app.name} receives: ${receives.join(' ') || 'an identifier only'}`, ...requestOf(input) });
          return 'next';
        },
      },
    },
  },
  pages: {
    'app-notice': async (s, flow) => {
      if (!flow.app) throw new AppError('SSPR 5102', 'app-notice without its app');
      // What the app's file allows, less what the ministry and the school withhold from it.
      const receives = s.releases ? await s.releases.filter(flow.app.key, (await flowAccount(s, flow)).school.code, flow.app.receives) : flow.app.receives;
      return { view: 'app-notice', data: { appName: flow.app.name, lines: receivedWords(receives) } };
    },
  },
  actions: [],
  finish: 'keep-session',
  cancel: 'tell-app',
};
