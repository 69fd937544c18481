// Runs the operators' CLI (src/cli/main.ts) as a child process, as an operator does.
import { spawn } from 'node:child_process';
import { projectRoot } from '../../src/config/settings.ts';
import { RedisStore } from '../../src/store/index.ts';
import { startTestIdp, type TestIdp } from './idp.ts';
import { testRedisUrl, uniquePrefix } from './redis.ts';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', ...args], { cwd: projectRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A test IdP on a Redis key prefix of its own, and the environment a CLI process needs to
 * work on the same stores (Redis and the IdP's database schema), as an operator's would.
 */
export async function idpForCli(): Promise<{ t: TestIdp; env: NodeJS.ProcessEnv }> {
  const url = await testRedisUrl();
  const prefix = uniquePrefix();
  const store = new RedisStore({ url, keyPrefix: prefix });
  await store.ready();
  const t = await startTestIdp({ store });
  return { t, env: { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...t.databaseEnv } };
}
