// OIDC clients registered over HTTP (RFC 7591): `initial-access-token` lets one app (or N) register
// when registration is protected (no demo accounts), `clients` lists them, `clients remove`
// deletes one. Works on the same store as the server.
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Provider } from 'oidc-provider';
import type { Settings } from '../config/settings.ts';
import { adapterFactory, registeredClients, removeRegisteredClient } from '../protocols/oidc/adapter.ts';
import { issueInitialAccessToken, LIMITED_USES, limitedUsesPolicy } from '../protocols/oidc/initial-access-tokens.ts';
import type { Store } from '../store/index.ts';
import type { Database } from '../store/database/index.ts';
import type { Services } from '../services.ts';

export const CLIENTS_USAGE = `  initial-access-token [--days N] [--uses N]           a token an app presents to register itself (default 7 days, 1 app)
  clients                                              the OIDC clients registered over HTTP (RFC 7591), as JSON
  clients remove <client_id>                           delete a registered client`;

export class ClientsUsageError extends Error {}

/** Creates an initial access token for `uses` registrations, with oidc-provider's own model, stored as the server's are. */
export async function createInitialAccessToken(settings: Settings, store: Store, database: Database, days: number, uses = 1): Promise<string> {
  const provider = new Provider(settings.server.publicUrl, {
    adapter: adapterFactory(store, database),
    // Signs nothing: only here so that oidc-provider does not fall back to its development keys.
    jwks: { keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'unused' }] } as never,
    features: { registration: { enabled: true, initialAccessToken: true, policies: { [LIMITED_USES]: limitedUsesPolicy(database) as never } }, devInteractions: { enabled: false } },
  });
  return issueInitialAccessToken(provider, database, days, uses);
}

export async function clientsCommand(command: string, argv: string[], out: (line: string) => void, open: () => Promise<{ settings: Settings; store: Store; services: Services; close?: () => Promise<void> }>): Promise<number> {
  // `clients remove <client_id>` takes the id as it is: a generated client_id may begin with "-"
  // (base64url), which an option parser would take for an option.
  const removing = command === 'clients' && argv[0] === 'remove' && argv.length === 2;
  const { positionals, values } = removing
    ? { positionals: argv, values: {} as { days?: string; uses?: string } }
    : parseArgs({ args: argv, allowPositionals: true, options: { days: { type: 'string' }, uses: { type: 'string' } } });
  const days = Number(values.days ?? 7);
  if (!(days > 0 && days <= 365)) throw new ClientsUsageError('--days must be between 0 and 365');
  const uses = Number(values.uses ?? 1);
  if (!(Number.isInteger(uses) && uses >= 1 && uses <= 1000)) throw new ClientsUsageError('--uses must be a whole number from 1 to 1000');
  if (command !== 'initial-access-token' && (values.days !== undefined || values.uses !== undefined)) throw new ClientsUsageError('--days and --uses are for initial-access-token');
  const [action, id] = positionals;
  if (command === 'clients' && action !== undefined && action !== 'remove') throw new ClientsUsageError(`clients takes no argument or "remove <client_id>"\n${CLIENTS_USAGE}`);
  if (action === 'remove' && !id) throw new ClientsUsageError('clients remove needs a client_id');
  const { settings, store, services, close } = await open();
  const { database } = services;
  try {
    if (command === 'initial-access-token') {
      const token = await createInitialAccessToken(settings, store, database, days, uses);
      out(`initial access token (shown once, valid ${days} days for ${uses === 1 ? 'one app' : `${uses} apps`}; send as "Authorization: Bearer <token>" to ${settings.server.publicUrl}/oidc/reg):`);
      out(token);
      return 0;
    }
    if (action === 'remove') {
      if (!(await removeRegisteredClient(store, database, id!))) throw new ClientsUsageError(`no registered client ${id}`);
      out(`removed ${id}`);
      return 0;
    }
    out(JSON.stringify(await registeredClients(store, database), null, 2));
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}
