// A Redis Sentinel deployment owned by the test harness, as the README documents it for
// production: one master, one replica, three sentinels (quorum 2), each a real
// redis-server process on a free port. Fault tests fail it over (SENTINEL FAILOVER) or
// kill the master with SIGKILL, then start the killed node again (it rejoins as a replica).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis.ts';

export const SENTINEL_NAME = 'idp-master';

export function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export class Node {
  child: ChildProcess | undefined;
  readonly port: number;
  readonly #args: string[];

  constructor(port: number, args: string[]) {
    this.port = port;
    this.#args = args;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', this.#args, { stdio: 'ignore' });
    await until(() => redisCli(this.port, 'ping') === 'PONG', `redis-server on ${this.port}`);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

export class OwnedSentinel {
  readonly #dir: string;
  readonly data: Node[];
  readonly sentinels: Node[];

  private constructor(dir: string, data: Node[], sentinels: Node[]) {
    this.#dir = dir;
    this.data = data;
    this.sentinels = sentinels;
  }

  /** host:port of the sentinels, as REDIS_SENTINELS takes them. */
  get sentinelAddresses(): string[] {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`);
  }

  static async start(replicas = 1): Promise<OwnedSentinel> {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-sentinel-'));
    const data: Node[] = [];
    for (let i = 0; i <= replicas; i++) {
      const port = await freePort();
      const nodeDir = path.join(dir, `data-${port}`);
      mkdirSync(nodeDir);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', nodeDir, '--repl-diskless-sync-delay', '0'];
      if (i > 0) args.push('--replicaof', '127.0.0.1', String(data[0]!.port));
      data.push(new Node(port, args));
    }
    const sentinels: Node[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${data[0]!.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_NAME} 1`, '',
      ].join('\n'));
      sentinels.push(new Node(port, [conf, '--sentinel']));
    }
    const owned = new OwnedSentinel(dir, data, sentinels);
    try {
      for (const n of data) await n.start();
      await until(() => owned.replicasOnline(data[0]!.port) === replicas, 'the replicas to sync');
      for (const s of sentinels) await s.start();
      // Every sentinel knows the replicas and the other sentinels before any test fails over.
      await until(() => sentinels.every((s) => {
        const info = redisCli(s.port, 'sentinel', 'master', SENTINEL_NAME);
        const lines = info.split('\n');
        const field = (name: string) => Number(lines[lines.indexOf(name) + 1]);
        return field('num-slaves') === replicas && field('num-other-sentinels') === 2;
      }), 'the sentinels to discover each other and the replicas');
    } catch (err) {
      await owned.stop();
      throw err;
    }
    return owned;
  }

  replicasOnline(port: number): number {
    return (redisCli(port, 'info', 'replication').match(/^slave\d+:.*state=online/gm) ?? []).length;
  }

  /** The master's port as the sentinels name it now. */
  masterPort(): number {
    for (const s of this.sentinels) {
      const [, port] = redisCli(s.port, 'sentinel', 'get-master-addr-by-name', SENTINEL_NAME).split('\n');
      if (port) return Number(port);
    }
    throw new Error('no sentinel answered');
  }

  node(port: number): Node {
    const n = this.data.find((d) => d.port === port);
    if (!n) throw new Error(`no data node on ${port}`);
    return n;
  }

  /** A planned switch-over: resolves once the sentinels name a new master. */
  async failover(): Promise<{ from: number; to: number }> {
    const from = this.masterPort();
    const reply = redisCli(this.sentinels[0]!.port, 'sentinel', 'failover', SENTINEL_NAME);
    if (reply !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${reply}`);
    await until(() => this.masterPort() !== from, 'the sentinels to promote a replica');
    return { from, to: this.masterPort() };
  }

  /** SIGKILL of the master; resolves once the sentinels promoted a replica. */
  async killMaster(): Promise<{ from: number; to: number }> {
    const from = this.masterPort();
    await this.node(from).kill('SIGKILL');
    await until(() => this.masterPort() !== from, 'the sentinels to promote a replica after the kill');
    return { from, to: this.masterPort() };
  }

  /** Resolves when every data node is up and the master has all its replicas online. */
  async healthy(): Promise<void> {
    for (const n of this.data) if (!n.running) await n.start();
    await until(() => {
      const port = this.masterPort();
      return redisCli(port, 'role').startsWith('master') && this.replicasOnline(port) === this.data.length - 1;
    }, 'every replica to resync with the new master', 30_000);
  }

  async stop(): Promise<void> {
    for (const n of [...this.sentinels, ...this.data]) await n.kill('SIGTERM');
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
