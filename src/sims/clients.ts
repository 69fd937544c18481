// The simulated relying parties' registrations with the IdP, generated (not committed):
// sls-sim's client secret and workspace-sim's SAML key pair live in keys/, created at
// first start.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newSamlKeyPair, type SamlKeyPair } from '../config/key-material.ts';
import { parseOidcClient, parseSamlSp, type OidcClientFile, type RelyingParties, type SamlSpFile } from '../config/relying-parties.ts';
import type { Settings } from '../config/settings.ts';
import { workspaceSpMetadata } from './workspace/metadata.ts';

type SimSecrets = { 'sls-sim'?: string; 'workspace-sim'?: SamlKeyPair };

function simSecrets(keysDir: string, fill: (s: SimSecrets) => boolean): SimSecrets {
  const file = path.join(keysDir, 'sim-clients.json');
  let secrets: SimSecrets = {};
  try {
    secrets = JSON.parse(readFileSync(file, 'utf8')) as SimSecrets;
  } catch {
    // absent or unreadable: generated below
  }
  if (fill(secrets)) writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export function slsSimClient(keysDir: string, publicUrl: string): OidcClientFile {
  const secrets = simSecrets(keysDir, (s) => {
    if (s['sls-sim']) return false;
    s['sls-sim'] = randomBytes(32).toString('base64url');
    return true;
  });
  return parseOidcClient(
    {
      protocol: 'oidc',
      display_name: 'Student Learning Space – SLS',
      client_id: 'sls-sim',
      client_secret: secrets['sls-sim'],
      redirect_uris: [`${publicUrl}/callback`],
      post_logout_redirect_uris: [`${publicUrl}/`],
      grant_types: ['authorization_code', 'refresh_token'],
      backchannel_logout_uri: `${publicUrl}/backchannel-logout`,
      // ID tokens and logout tokens carry the session's sid: a logout ends that session only.
      backchannel_logout_session_required: true,
    },
    '(built-in sls-sim)',
    // The sim lives where the IdP's configuration puts it (plain http on a classroom network too).
    { plainHttpAnywhere: true },
  );
}

/** workspace-sim as a SAML SP of the IdP, and the key pair the sim itself signs with. */
export function workspaceSimSp(keysDir: string, publicUrl: string): { sp: SamlSpFile; keys: SamlKeyPair } {
  const secrets = simSecrets(keysDir, (s) => {
    if (s['workspace-sim']) return false;
    s['workspace-sim'] = newSamlKeyPair('workspace-sim (simulated Student iCON)');
    return true;
  });
  const keys = secrets['workspace-sim']!;
  const sp = parseSamlSp(
    {
      protocol: 'saml',
      id: 'workspace-sim',
      // What users read (sign-in, sign-out pages): the app's own name, no internal label.
      display_name: 'Student iCON',
      metadata: workspaceSpMetadata(publicUrl, keys.certificatePem),
      default_relay_state: '/',
    },
    '(built-in workspace-sim)',
  );
  return { sp, keys };
}

/**
 * Adds the simulated apps to the relying parties when `sims.enabled` (as `npm start` runs
 * them; the CLI registers them the same way, so that it can tell them of sessions it ends).
 */
export function withSimulatedApps(settings: Settings, rps: RelyingParties): { sls: OidcClientFile | null; workspace: { sp: SamlSpFile; keys: SamlKeyPair } | null } {
  if (!settings.sims.enabled) return { sls: null, workspace: null };
  const sls = slsSimClient(settings.keysDir, settings.sims.sls.publicUrl);
  const workspace = workspaceSimSp(settings.keysDir, settings.sims.workspace.publicUrl);
  rps.oidc.push(sls);
  rps.saml.push(workspace.sp);
  return { sls, workspace };
}
