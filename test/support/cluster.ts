// A Redis Cluster owned by the test harness: redis-server with --cluster-enabled on free
// ports, joined with `redis-cli --cluster create`, with or without a replica per master.
// Fault tests kill a master (SIGKILL), fail over by hand (CLUSTER FAILOVER on a replica)
// and start killed nodes again (they rejoin as replicas).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis.ts';

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function until(check: () => boolean, what: string, ms = 30_000, state?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${state ? `\n${state()}` : ''}`);
    await sleep(50);
  }
}

export class OwnedCluster {
  readonly ports: number[];
  readonly #dir: string;
  readonly #children = new Map<number, ChildProcess>();

  private constructor(ports: number[], dir: string) {
    this.ports = ports;
    this.#dir = dir;
  }

  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  #spawn(port: number): ChildProcess {
    const nodeDir = path.join(this.#dir, String(port));
    spawnSync('mkdir', ['-p', nodeDir]);
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', nodeDir, '--repl-diskless-sync-delay', '0'], { stdio: 'ignore' });
    this.#children.set(port, child);
    return child;
  }

  static async start(masters = 3, replicasPerMaster = 0): Promise<OwnedCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-cluster-'));
    const ports: number[] = [];
    // Cluster bus ports are port + 10000: pick ports whose bus port is free too.
    while (ports.length < masters * (1 + replicasPerMaster)) {
      const p = await freePort();
      if (p < 55000 && !ports.includes(p)) ports.push(p);
    }
    const cluster = new OwnedCluster(ports, dir);
    for (const port of ports) cluster.#spawn(port);
    try {
      for (const port of ports) await until(() => cli(port, 'ping') === 'PONG', `cluster node on ${port}`, 5_000);
      const create = spawnSync('redis-cli', ['--cluster', 'create', ...cluster.nodes, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { encoding: 'utf8' });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await cluster.healthy();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Ports of the nodes that are masters now, each with the ports of its replicas. */
  topology(): Array<{ master: number; replicas: number[] }> {
    const live = this.ports.filter((p) => this.running(p));
    const lines = cli(live[0]!, 'cluster', 'nodes').split('\n').filter(Boolean).map((l) => l.split(' '));
    const portOf = (addr: string) => Number(addr.split('@')[0]!.split(':')[1]);
    const masters = lines.filter((f) => f[2]!.includes('master') && !f[2]!.includes('fail') && f.length > 8);
    return masters.map((m) => ({
      master: portOf(m[1]!),
      replicas: lines.filter((f) => f[3] === m[0] && !f[2]!.includes('fail')).map((f) => portOf(f[1]!)),
    }));
  }

  running(port: number): boolean {
    const c = this.#children.get(port);
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** SIGKILL of a node; resolves once the cluster has promoted its replica and is ok again. */
  async kill(port: number): Promise<void> {
    const child = this.#children.get(port);
    if (!child || !this.running(port)) return;
    const replicas = this.topology().find((t) => t.master === port)?.replicas ?? [];
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    // Promoted, not merely suspected: a node started again (empty, as these run without
    // persistence) before its replica took over would come back as the master of nothing.
    await until(() => replicas.some((r) => cli(r, 'role').startsWith('master')) && cli(replicas[0]!, 'cluster', 'info').includes('cluster_state:ok'), `a replica of ${port} to be promoted`);
  }

  /**
   * The shards once every master lists a replica in the nodes' view (gossip settles a moment
   * after a start or a failover: read too early, a master can appear without its replica).
   */
  async shards(): Promise<Array<{ master: number; replicas: number[] }>> {
    let shards = this.topology();
    await until(() => {
      shards = this.topology();
      return shards.length > 0 && shards.every((s) => s.replicas.length > 0);
    }, 'every master to list its replica', 30_000, () => cli(this.ports[0]!, 'cluster', 'nodes'));
    return shards;
  }

  /**
   * A manual failover (CLUSTER FAILOVER) on a replica; resolves once it is a master.
   * Redis abandons a manual failover that does not complete within 5 s (the master must pause
   * its clients and the replica catch up; under load on 2 cores CI saw it abandoned), and the
   * replica then stays a replica: ask again, still without FORCE, so no acknowledged write is
   * given up.
   */
  async failover(replicaPort: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    let reply = '';
    let attempts = 0;
    while (!cli(replicaPort, 'role').startsWith('master')) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${replicaPort} to become a master after ${attempts} CLUSTER FAILOVER (last answer: ${reply || 'none'})\n${cli(replicaPort, 'cluster', 'nodes')}`);
      // A replica still syncing, or a master it does not yet see as up, refuses for a moment: ask again.
      await until(() => {
        const r = spawnSync('redis-cli', ['-p', String(replicaPort), 'cluster', 'failover'], { encoding: 'utf8' });
        reply = `${r.stdout.trim()}${r.stderr.trim() ? ` (${r.stderr.trim()})` : ''}`;
        return reply === 'OK' || cli(replicaPort, 'role').startsWith('master');
      }, `CLUSTER FAILOVER on ${replicaPort} to be accepted`, 10_000, () => `last answer: ${reply || 'none'}`);
      attempts++;
      const attemptEnds = Date.now() + 8_000;
      while (Date.now() < attemptEnds && !cli(replicaPort, 'role').startsWith('master')) await sleep(50);
    }
  }

  /** Starts killed nodes again and waits until every master has its replicas online. */
  async healthy(): Promise<void> {
    for (const port of this.ports) {
      if (!this.running(port)) {
        this.#spawn(port);
        await until(() => cli(port, 'ping') === 'PONG', `cluster node on ${port}`, 5_000);
      }
    }
    const replicasPerMaster = this.ports.length / this.topology().length - 1;
    await until(() => {
      if (!this.ports.every((p) => cli(p, 'cluster', 'info').includes('cluster_state:ok'))) return false;
      const topology = this.topology();
      return topology.length * (1 + replicasPerMaster) === this.ports.length && topology.every((t) => {
        const online = (cli(t.master, 'info', 'replication').match(/^slave\d+:.*state=online/gm) ?? []).length;
        return online === replicasPerMaster;
      });
    }, 'every node to join and every replica to sync', 30_000, () => this.ports.map((p) => `${p} ${this.running(p) ? 'up' : 'down'}: ${cli(p, 'cluster', 'nodes')}`).join('\n'));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#children.values()].map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    }))));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
