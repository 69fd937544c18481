// The IdP as a separate process (`node src/main.ts`, as `npm start` runs it), and a
// round-robin HTTP proxy in front of several of them, as a load balancer without sticky
// sessions would be.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, request, type Server } from 'node:http';
import { projectRoot } from '../../src/config/settings.ts';
import { V8_MEMORY_FLAGS } from '../../src/config/node-flags.ts';
import { FAST_ARGON2 } from './idp.ts';
import { freePort } from './redis.ts';

export interface IdpProcess {
  port: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node [nodeArgs] src/main.ts` (of this checkout, or of another at `root`); resolves when its /readyz answers 200 (or, with
 * `until: 'alive'`, when /healthz does: the store may still be unreachable).
 */
export async function startIdpProcess(env: NodeJS.ProcessEnv, port?: number, nodeArgs: string[] = [], until: 'ready' | 'alive' = 'ready', root = projectRoot): Promise<IdpProcess> {
  const p = port ?? (await freePort());
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    IDP_SIMS: 'false',
    IDP_PUBLIC_URL: `http://127.0.0.1:${p}`,
    IDP_ARGON2_MEMORY_KIB: String(FAST_ARGON2.memoryCost),
    IDP_ARGON2_TIME_COST: String(FAST_ARGON2.timeCost),
    // The embedded database (no DATABASE_URL) in a folder of its own, never the project's data/.
    IDP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'idp-data-')),
    // One process unless a test asks for the cluster (unset, PostgreSQL and Redis would mean one per core).
    IDP_WORKERS: '1',
    ...env,
    PORT: String(p),
  };
  // As `npm start` runs it (V8's memory flags: src/config/node-flags.ts).
  const child = spawn(process.execPath, [...V8_MEMORY_FLAGS, ...nodeArgs, 'src/main.ts'], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // Ready when /readyz answers 200 (the store is reachable and the server listens).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`IdP exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}`);
    const ok = await fetch(`http://127.0.0.1:${p}/${until === 'ready' ? 'readyz' : 'healthz'}`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`IdP not ready within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    child,
    output: () => out,
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill(signal);
      return exited;
    },
  };
}

export interface RoundRobin {
  url: string;
  port: number;
  /** Requests served by each backend port. */
  served: Map<number, number>;
  backends: number[];
  close(): Promise<void>;
}

/** Sends each request to the next backend in turn (no stickiness). */
export async function roundRobin(backends: number[], port?: number): Promise<RoundRobin> {
  const served = new Map<number, number>();
  let next = 0;
  const p = port ?? (await freePort());
  const rr: RoundRobin = {
    url: `http://127.0.0.1:${p}`,
    port: p,
    served,
    backends,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((req, res) => {
    const target = rr.backends[next++ % rr.backends.length]!;
    served.set(target, (served.get(target) ?? 0) + 1);
    const upstream = request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('backend unavailable');
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(p, '127.0.0.1', resolve));
  return rr;
}
