// Back-channel single logout towards SAML service providers, for sessions ended without
// a browser (an administrator's reset or disable, a password change, the CLI): a signed
// LogoutRequest (the participant's NameID and SessionIndex) in a SOAP envelope, POSTed
// server to server to the SP's SingleLogoutService with the SOAP binding (saml-bindings
// 3.2). The SP's answer must be a LogoutResponse that passes the same inbound checks as
// one by HTTP-POST (inbound/: strict XML, schema, signature by the SP's keys — required
// when its metadata has a signing key —, fields, replay), from that SP, InResponseTo our
// request, with status Success; anything else is "not confirmed". An SP that offers only
// HTTP-Redirect or HTTP-POST logout can only be reached through the user's browser: it is
// reported as not told. Outbound rules (time limit, no redirects, SSRF): outbound-http.ts.
import type { Settings } from '../../config/settings.ts';
import type { Clock } from '../../domain/clock.ts';
import type { RelyingPartyNotice } from '../../domain/sessions/sign-out-report.ts';
import type { SamlParticipant } from '../../domain/sessions/sso-sessions.ts';
import type { Store } from '../../store/index.ts';
import { postOutbound, type OutboundAnswer } from '../outbound-http.ts';
import { NS, STATUS } from './constants.ts';
import { checkInbound, fromSoap, SamlRefusal } from './inbound/index.ts';
import { SOAP11_ENV } from './inbound/decode-soap.ts';
import type { IdpEndpoints } from './metadata.ts';
import { newMessageId, type SamlMessages } from './responses.ts';
import type { SchemaValidator } from './schema-validator.ts';
import type { ServiceProviders } from './service-providers.ts';
import { childElement } from './xml.ts';

/** saml-bindings 3.2.2.3: the SOAPAction a SAML requester may send. */
const SOAP_ACTION = 'http://www.oasis-open.org/committees/security';
/** The same limit oidc-provider gives its back-channel logout requests. */
export const BACKCHANNEL_TIMEOUT_MS = 2_500;

export interface SamlBackchannelDeps {
  settings: Pick<Settings, 'saml' | 'server'>;
  store: Store;
  clock: Clock;
  sps: ServiceProviders;
  messages: SamlMessages;
  schema: SchemaValidator;
  endpoints: IdpEndpoints;
  timeoutMs?: number;
  /** Counts a refused LogoutResponse (as for the other bindings). */
  onRefusal?: (code: string) => void;
  /** The HTTP client (outbound-http.ts; tests may pass another). */
  post?: typeof postOutbound;
}

export function soapEnvelope(samlXml: string): string {
  return `<soap11:Envelope xmlns:soap11="${SOAP11_ENV}"><soap11:Body>${samlXml}</soap11:Body></soap11:Envelope>`;
}

export function samlBackchannelLogout(deps: SamlBackchannelDeps) {
  const post = deps.post ?? postOutbound;
  const timeoutMs = deps.timeoutMs ?? BACKCHANNEL_TIMEOUT_MS;
  const { saml } = deps.settings;

  /** Checks the SP's answer; resolves to the failure, or undefined when it confirmed. */
  async function checkAnswer(spId: string, requestId: string, answer: OutboundAnswer): Promise<string | undefined> {
    if (answer.status !== 200) {
      // SOAP faults come with HTTP 500: their faultstring (for the log) if there is one.
      const fault = /<faultstring>([^<]{1,200})</.exec(answer.body)?.[1];
      return `HTTP ${answer.status} from the SP${fault ? ` (SOAP Fault: ${fault})` : ''}`;
    }
    try {
      const msg = await checkInbound(fromSoap(answer.body, deps.endpoints.sloUrl, ['LogoutResponse'], saml.maxMessageBytes), {
        sps: deps.sps,
        schema: deps.schema,
        store: deps.store,
        now: deps.clock(),
        clockSkewMs: saml.clockSkewSeconds * 1000,
        requestMaxAgeMs: saml.requestMaxAgeSeconds * 1000,
        maxMessageBytes: saml.maxMessageBytes,
      });
      const trusted = msg.trusted!;
      if (msg.sp!.id !== spId) return `LogoutResponse issued by ${msg.sp!.id}, not by ${spId}`;
      if (trusted.getAttribute('InResponseTo') !== requestId) return 'LogoutResponse does not answer our LogoutRequest (InResponseTo)';
      const status = childElement(childElement(trusted, NS.protocol, 'Status') ?? trusted, NS.protocol, 'StatusCode')?.getAttribute('Value');
      return status === STATUS.success ? undefined : `status ${status ?? '(none)'}`;
    } catch (err) {
      if (!(err instanceof SamlRefusal)) throw err;
      deps.onRefusal?.(err.code);
      return `LogoutResponse refused: ${err.detail}`;
    }
  }

  /** Tells one participant of an ended session; never throws. */
  async function tell(participant: SamlParticipant): Promise<RelyingPartyNotice> {
    const sp = await deps.sps.findById(participant.spId);
    const base = { protocol: 'saml' as const, id: participant.spId, name: sp?.displayName ?? participant.spId };
    if (!sp) return { ...base, outcome: 'cannot-tell', detail: 'no longer registered' };
    const endpoint = sp.soapSlo;
    if (!endpoint) {
      return sp.slo.length > 0
        ? { ...base, outcome: 'cannot-tell', browserOnly: true, detail: 'front-channel single logout only (needs the user’s browser)' }
        : { ...base, outcome: 'cannot-tell', detail: 'no single logout service' };
    }
    const requestId = newMessageId();
    const xml = deps.messages.logoutRequestXml({ id: requestId, destination: endpoint.location, nameId: participant.nameId, sessionIndex: participant.sessionIndex, now: deps.clock(), sp });
    try {
      const answer = await post(endpoint.location, soapEnvelope(deps.messages.signEnveloped(xml)), { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${SOAP_ACTION}"`, accept: 'text/xml' }, {
        timeoutMs,
        maxBytes: saml.maxMessageBytes,
        idpUrl: deps.settings.server.publicUrl,
      });
      const failure = await checkAnswer(sp.id, requestId, answer);
      return failure ? { ...base, outcome: 'failed', detail: failure } : { ...base, outcome: 'told' };
    } catch (err) {
      return { ...base, outcome: 'failed', detail: (err as Error).message };
    }
  }

  return { tell };
}

export type SamlBackchannelLogout = ReturnType<typeof samlBackchannelLogout>;
