// Required action "change-password": Change Password, then Please Wait, then Success.
//
//   step           action (POST /flow/:id/…)   leads to
//   password       password                    password           (missing, mismatch or a broken rule: said on the page)
//                                              password-wait      (the new password is hashed; only its hash waits)
//   password-wait  password/commit             password-done      (sent by the Please Wait page)
//   password-done  continue                    next               (the next required action, or the flow's finish)
//
// The server checks every rule of the account's policy. The commit replaces the password
// only if it has not changed meanwhile, then revokes the account's other sessions and
// tokens (the browser's own SSO session, if any, continues) and tells their apps.
import { PasswordChangedMeanwhileError } from '../../../domain/accounts/credentials.ts';
import { AppError } from '../../../domain/errors.ts';
import { nameParts } from '../../../domain/passwords/policy.ts';
import { describeReport } from '../../../domain/sessions/sign-out-report.ts';
import { message } from '../../../messages/catalogue.ts';
import { field, flowAccount, requestOf, type RequiredActionSpec } from '../../machine.ts';

export const changePassword: RequiredActionSpec = {
  action: 'change-password',
  entry: 'password',
  table: {
    password: {
      password: {
        to: ['password', 'password-wait'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const candidate = field(input.fields, 'newPassword', 4096);
          const confirmation = field(input.fields, 'confirmPassword', 4096);
          if (!candidate) {
            flow.error = message('password.missing');
            return 'password';
          }
          if (candidate !== confirmation) {
            flow.error = message('password.mismatch');
            return 'password';
          }
          const violations = await s.policies.for(account).check(candidate, account, s.credentials.history(account));
          if (violations.length > 0) {
            flow.error = message('password.refused');
            flow.problems = violations.map((v) => v.message);
            return 'password';
          }
          flow.newPasswordHash = await s.credentials.hashPassword(candidate);
          flow.replacesHash = account.passwordHash;
          return 'password-wait';
        },
      },
    },
    'password-wait': {
      'password/commit': {
        to: ['password-done'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          if (!flow.newPasswordHash || !flow.replacesHash) throw new AppError('SSPR 5102', 'nothing to commit');
          try {
            const { signOut } = await s.credentials.setPasswordHash(account.id, flow.newPasswordHash, flow.replacesHash, {
              actor: account.id,
              via: flow.kind,
              exceptSsoSession: input.ssoSessionId,
              ...requestOf(input),
            });
            flow.signOut = { sessionsEnded: signOut.sessionsEnded, ...describeReport(signOut) };
          } catch (err) {
            if (err instanceof PasswordChangedMeanwhileError) throw new AppError('SSPR 5102', 'password changed meanwhile', { continueTo: '/portal' });
            throw err;
          }
          delete flow.newPasswordHash;
          delete flow.replacesHash;
          return 'password-done';
        },
      },
    },
    'password-done': {
      continue: {
        to: ['next'],
        run: async (_s, flow) => {
          flow.pending = flow.pending.filter((a) => a !== 'change-password');
          return 'next';
        },
      },
    },
  },
  pages: {
    password: async (s, flow) => {
      const account = await flowAccount(s, flow);
      const policy = s.policies.for(account);
      return {
        view: 'change-password',
        data: {
          error: flow.error,
          requirements: policy.requirements(),
          rules: policy.rules,
          nameParts: policy.rules.noNameParts ? nameParts(account, policy.rules.namePartMinLength) : [],
          problems: flow.problems ?? [],
        },
        status: flow.error ? 400 : 200,
      };
    },
    'password-wait': async () => ({ view: 'please-wait', data: {} }),
    'password-done': async (_s, flow) => ({ view: 'password-changed', data: { signOut: flow.signOut ?? null } }),
  },
};
