// A three-master Redis Cluster owned by the test harness: redis-server with
// --cluster-enabled on free ports, joined with `redis-cli --cluster create`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis.ts';

export class OwnedCluster {
  readonly ports: number[];
  readonly #dir: string;
  readonly #children: ChildProcess[];

  private constructor(ports: number[], dir: string, children: ChildProcess[]) {
    this.ports = ports;
    this.#dir = dir;
    this.#children = children;
  }

  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  static async start(masters = 3): Promise<OwnedCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-cluster-'));
    const ports: number[] = [];
    // Cluster bus ports are port + 10000: pick ports whose bus port is free too.
    while (ports.length < masters) {
      const p = await freePort();
      if (p < 55000 && !ports.includes(p)) ports.push(p);
    }
    const children = ports.map((port) => {
      const nodeDir = path.join(dir, String(port));
      spawnSync('mkdir', ['-p', nodeDir]);
      return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', nodeDir], { stdio: 'ignore' });
    });
    const cluster = new OwnedCluster(ports, dir, children);
    for (const port of ports) {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
        if (!up) await sleep(50);
      }
      if (!up) {
        await cluster.stop();
        throw new Error(`cluster node on ${port} did not start`);
      }
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...cluster.nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) {
      await cluster.stop();
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    }
    for (let i = 0; i < 100; i++) {
      const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
      if (info.includes('cluster_state:ok')) return cluster;
      await sleep(100);
    }
    await cluster.stop();
    throw new Error('the cluster did not reach cluster_state:ok');
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((c) => (c.exitCode !== null ? undefined : new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    }))));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
