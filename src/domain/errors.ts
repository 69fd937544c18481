// The error catalogue: every failure a user can see, with the code and words of the
// guides (SSPR 5006, SSPR 5019) and codes in the same style for the rest.
// One error type carries status, stable code and whether its message may be shown;
// src/web/errors.ts renders it as an HTML page or JSON, with a reference id.

export const CATALOGUE = {
  'SSPR 5006': { status: 409, message: 'Challenge questions have not been defined for this user account. Please contact your administrator (LA/SA) to reset your password.' },
  'SSPR 5019': { status: 503, message: 'System having issue to process this request, please try again later. If issue persist, please contact your administrator (LA/SA) for further assistance.' },
  'SSPR 5101': { status: 410, message: 'Your session has timed out because there was no activity for a while. Nothing was changed. Please start again.' },
  'SSPR 5102': { status: 409, message: 'This page is no longer valid: the step was already completed or reached out of order. Nothing was changed. Please start again.' },
  'SSPR 5103': { status: 400, message: 'The request could not be understood. Please check what you entered and try again.' },
  'SSPR 5104': { status: 403, message: 'This form has expired or was not sent from this site. Nothing was changed. Please go back, reload the page and try again.' },
  'SSPR 5105': { status: 421, message: 'This service is only available over a secure (https) connection. Please check the address and try again; if it persists, please contact your administrator (LA/SA).' },
  'SSPR 5110': { status: 403, message: 'Your account is disabled. Please contact your administrator (LA/SA) for assistance.' },
  'SSPR 5111': { status: 423, message: 'Your account has been locked due to excessive incorrect login attempts. Use "Forgot Password?" to unlock it, or contact your administrator (LA/SA).' },
  'SSPR 5112': { status: 429, message: 'There have been too many incorrect answers for this account. Please try again later, or approach your teachers or MIMS Student Administrator (SA) to reset your password.' },
  'SSPR 5120': { status: 400, message: 'The application that sent you here made a request this service cannot accept. Please go back to the application and try again.' },
  'SSPR 5130': { status: 400, message: 'The application sent a sign-in or sign-out message that this service cannot accept. Nothing was changed. Please go back to the application and try again.' },
  'SSPR 5131': { status: 403, message: 'The application that sent you here is not registered with this service. Please contact your administrator (LA/SA).' },
  'SSPR 5132': { status: 400, message: 'The application asked for your sign-in to be sent to an address that is not registered for it. Nothing was sent. Please contact your administrator (LA/SA).' },
  'SSPR 5133': { status: 409, message: 'This sign-in request has already been used. Please go back to the application and start again.' },
  'SSPR 5403': { status: 403, message: 'You do not have access to this page.' },
  'SSPR 5404': { status: 404, message: 'The page you asked for does not exist.' },
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

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; continueTo?: string }) {
    super(CATALOGUE[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = CATALOGUE[code].status;
    this.detail = detail;
    this.continueTo = options?.continueTo;
  }
}
