// Provisioning from the CLI: SCIM clients (a token each, for some schools) and the roster's
// scheduled steps run once (the server runs them every lifecycle.runEveryMinutes).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Services } from '../services.ts';

export const PROVISIONING_USAGE = `  scim-client add <name> --school CODE[,CODE…]|'*'    a SCIM provisioning client: prints its token once
  scim-client list                                     SCIM clients, their schools, revoked or not
  scim-client revoke <id>                              the client's token stops working at once
  lifecycle run                                        moves and leaves due, leavers past retention deleted, dormant accounts disabled`;

export const PROVISIONING_COMMANDS = new Set(['scim-client', 'lifecycle']);

export class ProvisioningUsageError extends Error {}

export async function provisioningCommand(argv: string[], out: (line: string) => void, open: (command: string) => Promise<{ services: Services; close?: () => Promise<void> }>): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { school: { type: 'string' } } });
  const [command, action, arg] = positionals;
  const actor = `cli:${userInfo().username}`;
  if (command === 'scim-client' && !['add', 'list', 'revoke'].includes(action ?? '')) throw new ProvisioningUsageError(`usage:\n${PROVISIONING_USAGE}`);
  if (command === 'scim-client' && action === 'add' && (!arg || !values.school)) throw new ProvisioningUsageError('scim-client add needs a name and --school CODE[,CODE…] (or --school "*" for every school)');
  if (command === 'scim-client' && action === 'revoke' && !arg) throw new ProvisioningUsageError('scim-client revoke needs the client\'s id (scim-client list)');
  if (command === 'lifecycle' && action !== 'run') throw new ProvisioningUsageError('usage: lifecycle run');
  const { services: s, close } = await open(command === 'lifecycle' ? 'lifecycle' : command!);
  try {
    if (command === 'lifecycle') {
      const r = await s.lifecycle.run(actor);
      out(`moved ${r.moved}, left ${r.left}, deleted ${r.deleted}, dormant ${r.dormant}, failed ${r.failed}`);
      return r.failed > 0 ? 1 : 0;
    }
    if (action === 'add') {
      let issued;
      try {
        issued = await s.provisioningClients.issue(arg!, values.school!.split(',').map((v) => v.trim()).filter(Boolean), actor);
      } catch (err) {
        if (err instanceof RangeError) throw new ProvisioningUsageError(err.message);
        throw err;
      }
      out(`SCIM client ${issued.client.id} (${issued.client.name}) for ${issued.client.schools.join(', ')}`);
      out(`base URL: <public URL>/scim/v2`);
      out(`token (shown once, keep it secret): ${issued.token}`);
      return 0;
    }
    if (action === 'list') {
      const clients = await s.provisioningClients.list();
      if (clients.length === 0) out('no SCIM clients');
      for (const c of clients) out(`${c.id}  ${c.name}  schools ${c.schools.join(',')}  added ${new Date(c.createdAt).toISOString()}${c.revokedAt ? `  REVOKED ${new Date(c.revokedAt).toISOString()}` : ''}`);
      return 0;
    }
    if (!(await s.provisioningClients.revoke(arg!, actor))) throw new ProvisioningUsageError(`no SCIM client ${arg} that is not revoked already`);
    out(`revoked ${arg}`);
    return 0;
  } finally {
    await close?.();
  }
}
