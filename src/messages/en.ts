// The English catalogue: every sentence a flow, a domain rule or an error page shows, under
// a stable message id, in the words of the guides. Code returns ids with parameters
// (`Message`); pages render them through `text()` (catalogue.ts), so the words live here
// only. An entry is a string, or a function of its parameters when the words depend on them.
type Params = Record<string, string | number>;
type Entry = string | ((p: Params) => string);

function numberWord(n: string | number | undefined): string {
  return ['zero', 'one', 'two', 'three', 'four'][Number(n)] ?? String(n);
}

export const en = {
  // --- sign-in (the login prompt and the SSPR app's current-password step)
  'signin.failed': 'Login failed. The username or password you entered is incorrect. Please try again.',
  'signin.disabled': 'Your account is disabled. Please contact your administrator (LA/SA) for assistance.',
  'signin.locked': 'Your account has been locked due to excessive incorrect login attempts. Please use "Forgot Password?" to unlock it or to set a new password, or approach your teachers or MIMS administrator.',
  'signin.ip_throttled': 'There have been too many failed sign-in attempts from your network. Please wait a few minutes and try again.',
  'signin.missing_fields': 'Please enter your username and password.',
  'reauth.missing_password': 'Please enter your password.',
  'reauth.purpose.password': 'Change Password',
  'reauth.purpose.questions': 'Setup Security Questions',

  // --- change password
  'password.missing': 'Password missing',
  'password.mismatch': 'Passwords do not match. Please type the same new password in both fields.',
  'password.refused': 'The new password does not meet the password requirements.',
  // The requirement list of the Change Password screen
  'password.requirement.PWD_CASE': 'Password is case sensitive.',
  'password.requirement.PWD_MIN_LENGTH': (p) => `Must be at least ${p.min} characters long.`,
  'password.requirement.PWD_FIRST_CHAR': 'The first character can not be a symbol (non letter or number).',
  'password.requirement.PWD_NAME_PART': 'Must not include part of your name or user name.',
  'password.requirement.PWD_CHAR_TYPES': (p) => `Must have at least ${numberWord(p.count)} types of the following characters: Uppercase (A-Z), Lowercase (a-z), Number (0-9), Symbol (!, #, $, etc.)`,
  'password.requirement.PWD_MAX_LENGTH': (p) => `Must be at most ${p.max} characters long.`,
  'password.requirement.PWD_HISTORY': (p) => `New password must not have been used previously (last ${p.count}).`,
  'password.requirement.PWD_COMMON': 'Must not be a commonly used password.',
  // What a refused password broke
  'password.violation.PWD_MIN_LENGTH': (p) => `Must be at least ${p.min} characters long.`,
  'password.violation.PWD_MAX_LENGTH': (p) => `Must be at most ${p.max} characters long.`,
  'password.violation.PWD_FIRST_CHAR': 'The first character can not be a symbol (non letter or number).',
  'password.violation.PWD_CHAR_TYPES': (p) => `Must have at least ${numberWord(p.count)} types of the following characters: uppercase, lowercase, number, symbol.`,
  'password.violation.PWD_NAME_PART': 'Must not include part of your name or user name.',
  'password.violation.PWD_COMMON': 'This password is too common and easy to guess. Please choose another.',
  'password.violation.PWD_SAME_AS_CURRENT': 'The new password must be different from your current password.',
  'password.violation.PWD_HISTORY': 'New password must not have been used previously.',

  // --- challenge questions (setting them up)
  'answers.QST_REQUIRED': 'Please select a question.',
  'answers.QST_UNKNOWN': 'Please select a question from the list.',
  'answers.QST_DUPLICATE': (p) => `Please choose ${p.count} different questions.`,
  'answers.ANS_REQUIRED': 'Please type an answer.',
  'answers.ANS_LENGTH': (p) => `The answer must be ${p.min} to ${p.max} characters long.`,
  'answers.ANS_DUPLICATE': 'Each answer must be different.',
  'answers.ANS_QUESTION_WORDS': 'The answer must not contain words of the question.',
  'answers.ANS_PASSWORD': 'The answer must not be your password.',

  // --- forgot password
  'forgot.missing_login_id': 'Please enter your MIMS login ID (your email address).',
  'forgot.wrong_answers': 'One or more responses are not correct. Please try again.',

  // --- error pages (the code stays language-neutral; the words are these)
  'error.SSPR 5006': 'Challenge questions have not been defined for this user account. Please contact your administrator (LA/SA) to reset your password.',
  'error.SSPR 5019': 'System having issue to process this request, please try again later. If issue persist, please contact your administrator (LA/SA) for further assistance.',
  'error.SSPR 5101': 'Your session has timed out because there was no activity for a while. Nothing was changed. Please start again.',
  'error.SSPR 5102': 'This page is no longer valid: the step was already completed or reached out of order. Nothing was changed. Please start again.',
  'error.SSPR 5103': 'The request could not be understood. Please check what you entered and try again.',
  'error.SSPR 5104': 'This form has expired or was not sent from this site. Nothing was changed. Please go back, reload the page and try again.',
  'error.SSPR 5105': 'This service is only available over a secure (https) connection. Please check the address and try again; if it persists, please contact your administrator (LA/SA).',
  'error.SSPR 5110': 'Your account is disabled. Please contact your administrator (LA/SA) for assistance.',
  'error.SSPR 5111': 'Your account has been locked due to excessive incorrect login attempts. Use "Forgot Password?" to unlock it, or contact your administrator (LA/SA).',
  'error.SSPR 5112': 'There have been too many incorrect answers for this account. Please try again later, or approach your teachers or MIMS Student Administrator (SA) to reset your password.',
  'error.SSPR 5120': 'The application that sent you here made a request this service cannot accept. Please go back to the application and try again.',
  'error.SSPR 5130': 'The application sent a sign-in or sign-out message that this service cannot accept. Nothing was changed. Please go back to the application and try again.',
  'error.SSPR 5131': 'The application that sent you here is not registered with this service. Please contact your administrator (LA/SA).',
  'error.SSPR 5132': 'The application asked for your sign-in to be sent to an address that is not registered for it. Nothing was sent. Please contact your administrator (LA/SA).',
  'error.SSPR 5133': 'This sign-in request has already been used. Please go back to the application and start again.',
  'error.SSPR 5403': 'You do not have access to this page.',
  'error.SSPR 5404': 'The page you asked for does not exist.',
} satisfies Record<string, Entry>;
