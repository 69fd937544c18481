// Relying parties' back-channel endpoints for tests: an HTTP server that records every
// request it gets and answers as told; a SAML SP's SOAP SingleLogoutService that answers
// the IdP's LogoutRequest with a LogoutResponse (signed with the test SP's key unless
// told otherwise); and checks an SP or RP would make (xmlsec1, jose).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { logoutResponseXml, signXml } from './saml-messages.ts';
import type { SamlKeyPair } from '../../src/config/key-material.ts';

export interface Captured {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status?: number;
  type?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (a hanging app). */
  hang?: boolean;
}

export interface CaptureServer {
  url: string;
  requests: Captured[];
  close(): Promise<void>;
}

export async function captureServer(answer: (req: Captured) => Answer | Promise<Answer> = () => ({ status: 200 })): Promise<CaptureServer> {
  const requests: Captured[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(captured);
      void Promise.resolve(answer(captured)).then((a) => {
        if (a.hang) return;
        res.statusCode = a.status ?? 200;
        if (a.type) res.setHeader('content-type', a.type);
        for (const [name, value] of Object.entries(a.headers ?? {})) res.setHeader(name, value);
        res.end(a.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';

export function soapEnvelope(inner: string): string {
  return `<S:Envelope xmlns:S="${SOAP}"><S:Body>${inner}</S:Body></S:Envelope>`;
}

/** The LogoutRequest in a SOAP envelope, as text (namespaces declared on it). */
export function logoutRequestOf(envelope: string): string {
  const m = /<samlp:LogoutRequest[\s\S]*<\/samlp:LogoutRequest>/.exec(envelope);
  if (!m) throw new Error(`no LogoutRequest in ${envelope.slice(0, 300)}`);
  return m[0];
}

export interface SoapSpBehaviour {
  /** Sign the LogoutResponse (default) or not. */
  sign?: boolean;
  /** Sign with this key instead of the test SP's. */
  key?: SamlKeyPair;
  status?: string;
  /** Answer another request than the one received. */
  inResponseTo?: string;
}

/** How a SOAP SingleLogoutService of SP `entityId` answers, for captureServer. */
export function soapSp(entityId: string, idpUrl: () => string, behaviour: SoapSpBehaviour = {}) {
  return (req: Captured): Answer => {
    const requestId = /ID="([^"]+)"/.exec(logoutRequestOf(req.body))![1]!;
    const xml = logoutResponseXml({ issuer: entityId, destination: `${idpUrl()}/saml/slo`, inResponseTo: behaviour.inResponseTo ?? requestId, ...(behaviour.status ? { status: behaviour.status } : {}) });
    return { status: 200, type: 'text/xml; charset=utf-8', body: soapEnvelope(behaviour.sign === false ? xml : signXml(xml, 'sha256', behaviour.key)) };
  };
}

/** Whether xmlsec1 verifies the enveloped signature of `xml` with `certPem`. */
export function xmlsecVerify(xml: string, certPem: string, idAttr: string): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmlsec-'));
  writeFileSync(path.join(dir, 'm.xml'), xml);
  writeFileSync(path.join(dir, 'c.pem'), certPem);
  const r = spawnSync('xmlsec1', ['--verify', '--pubkey-cert-pem', path.join(dir, 'c.pem'), '--id-attr:ID', idAttr, path.join(dir, 'm.xml')], { encoding: 'utf8' });
  if (r.error) throw new Error('xmlsec1 is not installed (apt-get install -y xmlsec1)');
  return r.status === 0;
}
