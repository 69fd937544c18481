// JSON logs with pino. Each line carries the request id of the request it belongs to
// (from AsyncLocalStorage), and known secret-bearing fields are redacted.
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export interface RequestScope {
  requestId: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

const REDACT = [
  'password', '*.password', 'newPassword', '*.newPassword', 'confirmPassword', '*.confirmPassword',
  'answer', '*.answer', 'answers', '*.answers', 'token', '*.token', 'access_token', '*.access_token',
  'refresh_token', '*.refresh_token', 'id_token', '*.id_token', 'code', '*.code', 'client_secret', '*.client_secret',
  'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'idp' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      mixin: () => {
        const scope = requestScope.getStore();
        return scope ? { requestId: scope.requestId } : {};
      },
    },
    destination,
  );
}

export type { Logger };
