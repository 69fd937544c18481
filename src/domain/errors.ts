// The error codes: every failure a user can see, with the codes of the guides (SSPR 5006,
// SSPR 5019) and codes in the same style for the rest, and their HTTP status. The words
// are in the message catalogue under `error.<code>` (src/messages/en.ts).
import { text, type MessageId, type MessageParams } from '../messages/catalogue.ts';

// One error type carries status, stable code and whether its message may be shown;
// src/web/errors.ts renders it as an HTML page or JSON, with a reference id.

export const CATALOGUE = {
  'SSPR 5006': { status: 409 },
  'SSPR 5019': { status: 503 },
  'SSPR 5101': { status: 410 },
  'SSPR 5102': { status: 409 },
  'SSPR 5103': { status: 400 },
  'SSPR 5104': { status: 403 },
  'SSPR 5105': { status: 421 },
  'SSPR 5110': { status: 403 },
  'SSPR 5111': { status: 423 },
  'SSPR 5112': { status: 429 },
  'SSPR 5120': { status: 400 },
  'SSPR 5130': { status: 400 },
  'SSPR 5131': { status: 403 },
  'SSPR 5132': { status: 400 },
  'SSPR 5133': { status: 409 },
  'SSPR 5140': { status: 503 },
  'SSPR 5141': { status: 429 },
  'SSPR 5142': { status: 429 },
  'SSPR 5403': { status: 403 },
  'SSPR 5404': { status: 404 },
} as const;

export type ErrorCode = keyof typeof CATALOGUE;

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` may be shown to the user (catalogue messages always may). */
  readonly expose = true;
  /** Internal detail for the log line only. */
  readonly detail: string | undefined;
  /** Where the page's "Continue" button leads (a path of this IdP). */
  readonly continueTo: string | undefined;
  /** The words shown (a message id; by default `error.<code>`) and their parameters. */
  readonly messageId: MessageId;
  readonly params: MessageParams | undefined;
  /**
   * Nothing was done and the same request may come again after this many seconds (overload,
   * spraying alarm): answered with Retry-After, and a page that sends the form again by itself.
   */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; continueTo?: string; messageId?: MessageId; params?: MessageParams; retryAfterSeconds?: number }) {
    const messageId = options?.messageId ?? errorMessageId(code);
    super(text({ id: messageId, params: options?.params }), options?.cause === undefined ? undefined : { cause: options.cause });
    this.messageId = messageId;
    this.params = options?.params;
    this.code = code;
    this.status = CATALOGUE[code].status;
    this.detail = detail;
    this.continueTo = options?.continueTo;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The catalogue id of an error code's words. */
export function errorMessageId(code: ErrorCode): MessageId {
  return `error.${code}`;
}
