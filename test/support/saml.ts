// SAML helpers for tests: service providers built in code, the workspace-sim on a free
// port, and following the IdP's script-submitted hand-off forms the way a browser would.
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Response } from 'supertest';
import { newSamlKeyPair, type SamlKeyPair } from '../../src/config/key-material.ts';
import { parseSamlSp, type SamlSpFile } from '../../src/config/relying-parties.ts';
import { projectRoot } from '../../src/config/settings.ts';
import { certificateBody } from '../../src/protocols/saml/metadata.ts';
import { workspaceSimSp } from '../../src/sims/clients.ts';
import { createWorkspaceSim } from '../../src/sims/workspace/app.ts';
import type { MultiBrowser } from './multi-browser.ts';
import { freePort } from './redis.ts';

export interface SpKeys {
  signing: SamlKeyPair;
  encryption: SamlKeyPair;
}

let cachedKeys: SpKeys | undefined;
/** One SP key pair set for the whole run (RSA generation is slow). */
export function spKeys(): SpKeys {
  cachedKeys ??= { signing: newSamlKeyPair('test SP signing'), encryption: newSamlKeyPair('test SP encryption') };
  return cachedKeys;
}

export interface TestSpOptions {
  id?: string;
  entityId?: string;
  acs?: string[];
  slo?: string;
  sloBinding?: 'redirect' | 'post';
  /** A SingleLogoutService with the SOAP binding (back-channel logout) at this URL. */
  soapSlo?: string;
  authnRequestsSigned?: boolean;
  withEncryptionKey?: boolean;
  /** Metadata without a signing key (an SP that signs nothing). */
  withoutSigningKey?: boolean;
  options?: Record<string, unknown>;
}

/** Metadata and a relying-party file for an SP made up by a test. */
export function testSp(o: TestSpOptions = {}): { file: SamlSpFile; metadata: string; entityId: string } {
  const id = o.id ?? 'test-sp';
  const entityId = o.entityId ?? `https://sp.test/${id}`;
  const keys = spKeys();
  const acs = o.acs ?? [`http://127.0.0.1:9/${id}/acs`];
  const keyDescriptor = (use: string, pem: string) =>
    `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const metadata =
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="${o.authnRequestsSigned ? 'true' : 'false'}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    (o.withoutSigningKey ? '' : keyDescriptor('signing', keys.signing.certificatePem)) +
    (o.withEncryptionKey ? keyDescriptor('encryption', keys.encryption.certificatePem) : '') +
    (o.slo ? `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${o.sloBinding === 'post' ? 'HTTP-POST' : 'HTTP-Redirect'}" Location="${o.slo}"/>` : '') +
    (o.soapSlo ? `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="${o.soapSlo}"/>` : '') +
    acs.map((url, i) => `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${url}" index="${i}"${i === 0 ? ' isDefault="true"' : ''}/>`).join('') +
    '</md:SPSSODescriptor></md:EntityDescriptor>';
  const file = parseSamlSp({ protocol: 'saml', id, display_name: `Test SP ${id}`, metadata, ...o.options }, `(test ${id})`);
  return { file, metadata, entityId };
}

export interface RunningWorkspaceSim {
  url: string;
  sp: SamlSpFile;
  sim: ReturnType<typeof createWorkspaceSim>;
  /** Starts the sim against an IdP (call once the IdP is up). */
  start(idpUrl: string): Promise<void>;
  close(): Promise<void>;
}

/** workspace-sim on a free port; its SP registration is ready before the IdP starts. */
export async function workspaceSim(): Promise<RunningWorkspaceSim> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { sp, keys } = workspaceSimSp(mkdtempSync(path.join(tmpdir(), 'idp-ws-keys-')), url);
  let server: Server | undefined;
  const running: RunningWorkspaceSim = {
    url,
    sp,
    sim: undefined as unknown as ReturnType<typeof createWorkspaceSim>,
    async start(idpUrl: string) {
      running.sim = createWorkspaceSim({ publicUrl: url, idpMetadataUrl: `${idpUrl}/saml/metadata`, keys, viewsDir: path.join(projectRoot, 'views/sims/workspace') });
      server = createServer(running.sim.app.callback());
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
  return running;
}

/** The hand-off form a page submits by script (data-autosubmit="now"), as a browser would. */
export function autoForm(html: string): { action: string; fields: Record<string, string> } {
  const form = /<form method="post" action="([^"]+)"[^>]*data-autosubmit="now"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no auto-submitted form in page:\n${html.slice(0, 1500)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[m[1]!] = decode(m[2]!);
  return { action: decode(form[1]!), fields };
}

function decode(s: string): string {
  return s.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Follows pages and script-submitted forms until a page that is not a hand-off. */
export async function followHandOffs(b: MultiBrowser, start: { url: string; res: Response }): Promise<{ url: string; res: Response }> {
  let page = start;
  for (let i = 0; i < 10 && /data-autosubmit="now"/.test(page.res.text ?? ''); i++) {
    const form = autoForm(page.res.text);
    page = await b.post(new URL(form.action, page.url).toString(), form.fields);
  }
  return page;
}
