#!/usr/bin/env node
// `school-idp` (npx <tarball> / npx school-idp): the IdP with flags instead of environment
// variables. Every flag is derived from ENVIRONMENT in config/settings.ts, so the two never
// drift: IDP_SEED_FILE is --seed-file, PORT is --port, IDP_DEMO_SEED is --demo-seed.
// A flag sets its variable, then the server starts exactly as `npm start` would.
import path from 'node:path';
import { ENVIRONMENT, ENVIRONMENT_FILES } from './config/settings.ts';

const PATHS = ['IDP_SEED_FILE', 'IDP_RP_DIR', 'IDP_CONFIG_FILE', 'IDP_KEYS_DIR', 'IDP_DATA_DIR'];

/** PORT → port, IDP_SEED_FILE → seed-file, REDIS_URL → redis-url. */
export function flagOf(env: string): string {
  return env.replace(/^IDP_/, '').toLowerCase().replaceAll('_', '-');
}

/** Short names for what testers type most. */
const ALIASES: Record<string, string> = { seed: 'IDP_SEED_FILE', 'rp-dir': 'IDP_RP_DIR', config: 'IDP_CONFIG_FILE', 'public-url': 'IDP_PUBLIC_URL' };

const BOOLEAN = new Set(ENVIRONMENT.filter((e) => e.parse?.('true') === true).map((e) => e.env));

export function flags(): Array<{ flag: string; env: string; what: string; boolean: boolean }> {
  return [
    ...ENVIRONMENT.map((e) => ({ flag: flagOf(e.env), env: e.env, what: `settings ${e.key}`, boolean: BOOLEAN.has(e.env) })),
    ...ENVIRONMENT_FILES.map((e) => ({ flag: flagOf(e.env), env: e.env, what: e.what, boolean: false })),
  ];
}

export function usage(): string {
  const rows = flags().map((f) => {
    const alias = Object.entries(ALIASES).find(([, env]) => env === f.env)?.[0];
    const names = `--${f.flag}${f.boolean ? '[=true|false]' : ' <value>'}${alias && alias !== f.flag ? `, --${alias}` : ''}`;
    return `  ${names.padEnd(44)} ${f.env.padEnd(28)} ${f.what}`;
  });
  return [
    'usage: school-idp [flags]     (npx school-idp --port 4000 --seed accounts.json --rp-dir ./rps)',
    '',
    'Each flag sets the environment variable beside it (README "Configuration"); a flag wins over the variable.',
    'With --port and no --public-url, the public URL is http://localhost:<port>.',
    '',
    ...rows,
    '  --help, -h',
  ].join('\n');
}

export class FlagError extends Error {}

/** The environment the flags ask for (over `env`). */
export function environmentFrom(argv: string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const byFlag = new Map(flags().map((f) => [f.flag, f]));
  for (const [alias, name] of Object.entries(ALIASES)) byFlag.set(alias, flags().find((f) => f.env === name)!);
  const out: NodeJS.ProcessEnv = { ...env };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--(no-)?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new FlagError(`unexpected argument: ${arg}`);
    const [, no, name, inline] = m;
    const f = byFlag.get(name!);
    if (!f) throw new FlagError(`unknown flag --${name} (--help lists them)`);
    let value: string;
    if (no) {
      if (!f.boolean || inline !== undefined) throw new FlagError(`--no-${name} is not a flag`);
      value = 'false';
    } else if (inline !== undefined) {
      value = inline;
    } else if (f.boolean && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      value = 'true';
    } else {
      const next = argv[++i];
      if (next === undefined) throw new FlagError(`--${name} needs a value`);
      value = next;
    }
    out[f.env] = value;
  }
  // Paths are relative to where the command runs, not to the installed package; so are the
  // keys (and the simulated apps' registrations) when no --keys-dir says where, and the
  // embedded database when no --data-dir does: ./keys and ./data of the folder it runs in,
  // never inside npm's shared npx cache.
  for (const name of PATHS) if (out[name] && out[name] !== env[name]) out[name] = path.resolve(out[name]!);
  if (!out.IDP_KEYS_DIR) out.IDP_KEYS_DIR = path.resolve('keys');
  if (!out.IDP_DATA_DIR) out.IDP_DATA_DIR = path.resolve('data');
  if (argv.some((a) => /^--port(=|$)/.test(a)) && !argv.some((a) => /^--public-url(=|$)/.test(a))) out.IDP_PUBLIC_URL = `http://localhost:${out.PORT}`;
  return out;
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${usage()}\n`);
} else {
  try {
    Object.assign(process.env, environmentFrom(argv, process.env));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  await import('./main.ts'); // the same entry as npm start (compile cache, then server.ts)
}
