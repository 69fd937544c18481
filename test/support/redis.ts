// Real Redis for tests. With REDIS_URL set, tests use that server (under a key prefix
// of their own). Otherwise the harness starts its own redis-server on a free port and
// owns it (so fault tests may stop and start it). No Redis at all is a loud failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { RedisStore } from '../../src/store/index.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export class OwnedRedis {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<OwnedRedis> {
    return OwnedRedis.startOn(await freePort(), extraArgs);
  }

  /** Starts a server on a given port (a test may point the IdP at it before it exists). */
  static async startOn(port: number, extraArgs: string[] = []): Promise<OwnedRedis> {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      throw new Error('redis-server is not installed and REDIS_URL is not set: install Redis (apt-get install -y redis-server) or point REDIS_URL at one');
    }
    const redis = new OwnedRedis(port, mkdtempSync(path.join(tmpdir(), 'idp-redis-')));
    redis.extraArgs = extraArgs;
    await redis.resume();
    return redis;
  }

  extraArgs: string[] = [];

  /** (Re)starts the server on the same port and directory. */
  async resume(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    for (let i = 0; i < 100; i++) {
      const r = spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' });
      if (r.stdout.trim() === 'PONG') return;
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: OwnedRedis | undefined;

/** The Redis URL for this test run (starting the harness's own server if needed). */
export async function testRedisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  shared ??= await OwnedRedis.start();
  return shared.url;
}

export async function stopSharedRedis(): Promise<void> {
  await shared?.destroy();
  shared = undefined;
}

let sharedCluster: Promise<{ stop(): Promise<void>; nodes: string[] }> | undefined;

/**
 * The cluster of this run: REDIS_CLUSTER_NODES, or three masters with a replica each that
 * the harness starts once (durable writes wait for a replica, as in production).
 */
export async function sharedClusterNodes(): Promise<string[]> {
  if (process.env.REDIS_CLUSTER_NODES) return process.env.REDIS_CLUSTER_NODES.split(',');
  sharedCluster ??= import('./cluster.ts').then(({ OwnedCluster }) => OwnedCluster.start(3, 1));
  return (await sharedCluster).nodes;
}

/** With IDP_TEST_STORE=cluster, every "redis" store of the suite is a Redis Cluster. */
export async function testClusterNodes(): Promise<string[] | null> {
  return process.env.IDP_TEST_STORE === 'cluster' ? sharedClusterNodes() : null;
}

export async function stopSharedCluster(): Promise<void> {
  const cluster = sharedCluster;
  sharedCluster = undefined;
  await (await cluster)?.stop();
}

let prefixCounter = 0;
/** A key prefix no other test (or run) uses. */
export function uniquePrefix(): string {
  return `t${process.pid}-${Date.now().toString(36)}-${prefixCounter++}:`;
}

/** Every key under the prefix with its value(s), as one text per key. */
export async function dumpRedis(store: RedisStore): Promise<string[]> {
  // Connections of their own, without the key prefix: names are read and used as stored.
  const masters = 'nodes' in store.client ? store.client.nodes('master') : [store.client];
  const nodes = masters.map((m) => new Redis({ host: m.options.host, port: m.options.port }));
  const out: string[] = [];
  for (const node of nodes) {
    const names = await node.call('KEYS', `${store.prefix}*`) as string[];
    for (const name of names) {
      const type = await node.call('TYPE', name) as string;
      const command = { string: ['GET'], hash: ['HGETALL'], set: ['SMEMBERS'], zset: ['ZRANGE', '0', '-1'], stream: ['XRANGE', '-', '+'] }[type] ?? ['TYPE'];
      const [verb, ...args] = command;
      out.push(`${name} ${JSON.stringify(await node.call(verb!, name, ...args))}`);
    }
    node.disconnect();
  }
  return out;
}
