// What the inbound checks share: the message as it travels through them, and the one
// error they throw. Checks run in order (see index.ts); each reads what earlier ones
// established and adds what it proves.
import type { Store } from '../../../store/index.ts';
import type { ErrorCode } from '../../../domain/errors.ts';
import type { SchemaValidator } from '../schema-validator.ts';
import type { Endpoint, ServiceProvider, ServiceProviders } from '../service-providers.ts';

export type MessageKind = 'AuthnRequest' | 'LogoutRequest' | 'LogoutResponse';

export interface InboundMessage {
  /** soap: the answer to a back-channel request of ours (decode-soap.ts). */
  binding: 'redirect' | 'post' | 'soap';
  param: 'SAMLRequest' | 'SAMLResponse';
  /** Which messages this endpoint takes. */
  expected: MessageKind[];
  /** The URL of the endpoint it was sent to (for Destination). */
  endpointUrl: string;
  /** HTTP-Redirect: the query parameters exactly as received (still URL-encoded). */
  rawQuery?: Map<string, string>;
  /** HTTP-Redirect: SigAlg, URL-decoded. */
  sigAlg?: string | undefined;
  /** HTTP-Redirect: the Signature's bytes (URL- and base64-decoded). */
  signature?: Buffer | undefined;
  /** The decoded XML. */
  xml?: string;
  relayState?: string | undefined;
  root?: Element;
  kind?: MessageKind;
  sp?: ServiceProvider;
  signed?: boolean;
  /** The element every field is read from: the signed content when signed, else the root. */
  trusted?: Element;
  id?: string;
  issueInstant?: number;
  /** AuthnRequest: where the response goes. */
  acs?: Endpoint;
}

export interface CheckContext {
  sps: ServiceProviders;
  schema: SchemaValidator;
  store: Store;
  now: number;
  clockSkewMs: number;
  requestMaxAgeMs: number;
  maxMessageBytes: number;
}

export type Check = (msg: InboundMessage, ctx: CheckContext) => void | Promise<void>;

/** A refused message: `code` is shown to the user, `detail` goes to the log only. */
export class SamlRefusal extends Error {
  override name = 'SamlRefusal';
  readonly code: ErrorCode;
  readonly detail: string;

  constructor(code: ErrorCode, detail: string) {
    super(detail);
    this.code = code;
    this.detail = detail;
  }
}

export function refuse(detail: string, code: ErrorCode = 'SSPR 5130'): never {
  throw new SamlRefusal(code, detail);
}

/** The fields of an earlier check, which must have run. */
export function established<K extends keyof InboundMessage>(msg: InboundMessage, key: K): NonNullable<InboundMessage[K]> {
  const value = msg[key];
  if (value === undefined || value === null) throw new Error(`inbound check order: ${String(key)} not established`);
  return value as NonNullable<InboundMessage[K]>;
}
