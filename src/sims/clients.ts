// The simulated relying parties' registrations with the IdP, generated (not committed):
// their secrets live in keys/sim-clients.json, created at first start.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseOidcClient, type OidcClientFile } from '../config/relying-parties.ts';

export function slsSimClient(keysDir: string, publicUrl: string): OidcClientFile {
  const file = path.join(keysDir, 'sim-clients.json');
  let secrets: Record<string, string> = {};
  try {
    secrets = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    // absent or unreadable: generated below
  }
  if (!secrets['sls-sim']) {
    secrets['sls-sim'] = randomBytes(32).toString('base64url');
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return parseOidcClient(
    {
      protocol: 'oidc',
      display_name: 'Student Learning Space – SLS (simulated)',
      client_id: 'sls-sim',
      client_secret: secrets['sls-sim'],
      redirect_uris: [`${publicUrl}/callback`],
      post_logout_redirect_uris: [`${publicUrl}/`],
      grant_types: ['authorization_code', 'refresh_token'],
      backchannel_logout_uri: `${publicUrl}/backchannel-logout`,
    },
    '(built-in sls-sim)',
  );
}
