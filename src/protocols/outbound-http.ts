// Requests the IdP makes on its own, server to server (SAML back-channel logout over
// SOAP), under the rules oidc-provider applies to its back-channel logout in this project
// (protocols/oidc/provider.ts, `fetch`): one time limit for the whole exchange, redirects
// never followed (a 3xx is an answer like any other), the answer capped, and no
// connection to a special-use address (loopback, private, link-local, documentation,
// ...: SSRF protection), checked on the addresses DNS gives and connected to, so a name
// that resolves there is refused too. The one exemption is oidc-provider's here: an IdP
// whose own public URL is on loopback (`npm start`, tests) may call loopback targets.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/** Host names taken as loopback (as in provider.ts). */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

// The special-use ranges oidc-provider refuses (its helpers/fetch_request.js), and multicast.
// Two lists: one BlockList checks IPv4 addresses against IPv6 rules too (as mapped addresses).
const SPECIAL_USE_V4 = new BlockList();
const SPECIAL_USE_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['192.175.48.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL_USE_V4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['2620:4f:8000::', 48], ['3fff::', 20], ['5f00::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) SPECIAL_USE_V6.addSubnet(net, prefix, 'ipv6');

export function isSpecialUse(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return SPECIAL_USE_V4.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    return mapped ? SPECIAL_USE_V4.check(mapped[1]!, 'ipv4') : SPECIAL_USE_V6.check(address, 'ipv6');
  }
  return true;
}

/** A request that could not be made or answered (its message names why, for the log). */
export class OutboundError extends Error {
  override name = 'OutboundError';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** DNS as usual, refusing names that resolve to a special-use address. */
function guardedLookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void {
  dnsLookup(hostname, { family: options.family as 0 | 4 | 6 | undefined, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const bad = addresses.find((a) => isSpecialUse(a.address));
    if (bad || addresses.length === 0) return callback(new OutboundError(`${hostname} resolves to a special-use address`), '');
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

export interface OutboundOptions {
  timeoutMs: number;
  /** Largest answer read (bytes). */
  maxBytes: number;
  /** The IdP's own public URL: loopback targets are allowed only when it is on loopback. */
  idpUrl: string;
}

export interface OutboundAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** POSTs `body` to `url` and reads the answer, within the rules above. */
export function postOutbound(url: string, body: string, headers: Record<string, string>, options: OutboundOptions): Promise<OutboundAnswer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new OutboundError(`not a URL: ${url}`));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.reject(new OutboundError(`not an http(s) URL: ${url}`));
  const exempt = LOOPBACK.test(new URL(options.idpUrl).hostname) && LOOPBACK.test(target.hostname);
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  // An address in the URL is connected to without a lookup: check it here.
  if (!exempt && isIP(literal) && isSpecialUse(literal)) return Promise.reject(new OutboundError(`${literal} is a special-use address`));

  const signal = AbortSignal.timeout(options.timeoutMs);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<OutboundAnswer>((resolve, reject) => {
    const fail = (err: unknown) => {
      const e = err as Error;
      reject(signal.aborted ? new OutboundError(`no answer within ${options.timeoutMs} ms`) : e instanceof OutboundError ? e : new OutboundError(e.message || String(err)));
    };
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body, 'utf8')) },
        signal,
        agent: false,
        ...(exempt ? {} : { lookup: guardedLookup as unknown as typeof dnsLookup }),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            fail(new OutboundError(`answer larger than ${options.maxBytes} bytes`));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (size <= options.maxBytes) resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}
