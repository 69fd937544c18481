// A PostgreSQL cluster for failover tests, as production runs it: three members under
// Patroni (Debian's package) with a one-node etcd, synchronous replication in strict mode
// (a commit is acknowledged once the synchronous standby has it; only that standby is
// promoted), on free loopback ports, in a temporary folder, run as the `postgres` user
// (PostgreSQL refuses root). The settings are those measured in shared/reference/pg-ha:
// ttl 5, loop_wait 1, retry_timeout 2, primary_start_timeout 0 (a killed postmaster fails
// over instead of being recovered in place), wal_retrieve_retry_interval 500ms.
// Faults: a planned switchover (Patroni's REST API), kill -9 of the leader's postmaster,
// kill -9 of the leader's Patroni and postmaster (a node lost; its Patroni is started again
// as a supervisor would, and it rejoins by pg_rewind).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis.ts';

interface Member {
  name: string;
  pgPort: number;
  restPort: number;
  dataDir: string;
  config: string;
  patroni: ChildProcess | undefined;
}

interface ClusterMember {
  name: string;
  role: string;
  state: string;
  port?: number;
}

function need(command: string, pkg: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${command} is not installed (Debian package ${pkg}): .ci/run installs it`);
  return found;
}

function postgresBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  if (!versions.length) throw new Error('PostgreSQL server binaries are not installed (Debian package postgresql)');
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`;
}

/** As whom the cluster runs: `postgres` when this process is root (PostgreSQL refuses root), else this user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('no postgres user to run PostgreSQL as (Debian package postgresql creates it)');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export class OwnedPatroni {
  readonly dir: string;
  readonly members: Member[];
  readonly #etcdPorts: [number, number];
  readonly #user: { uid: number; gid: number } | undefined;
  #etcd: ChildProcess | undefined;
  readonly #logs: string[] = [];

  private constructor(dir: string, members: Member[], etcdPorts: [number, number]) {
    this.dir = dir;
    this.members = members;
    this.#etcdPorts = etcdPorts;
    this.#user = runAs();
  }

  /** The libpq-style URL the IdP is given: every member. */
  get url(): string {
    return `postgres://postgres:postgres@${this.members.map((m) => `127.0.0.1:${m.pgPort}`).join(',')}/postgres`;
  }

  static async start(): Promise<OwnedPatroni> {
    need('patroni', 'patroni');
    need('etcd', 'etcd-server');
    const bin = postgresBin();
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-patroni-'));
    const etcdPorts: [number, number] = [await freePort(), await freePort()];
    const members: Member[] = [];
    for (const name of ['pg1', 'pg2', 'pg3']) {
      const pgPort = await freePort();
      const restPort = await freePort();
      const dataDir = path.join(dir, 'data', name);
      const config = path.join(dir, `${name}.yml`);
      writeFileSync(config, `scope: idp-test
namespace: /idp-test/
name: ${name}
restapi:
  listen: 127.0.0.1:${restPort}
  connect_address: 127.0.0.1:${restPort}
etcd3:
  hosts: 127.0.0.1:${etcdPorts[0]}
bootstrap:
  dcs:
    ttl: 5
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        hot_standby: 'on'
        synchronous_commit: 'on'
        shared_buffers: 32MB
        max_connections: 60
        wal_retrieve_retry_interval: 500ms
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.1/32 trust
  - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${dataDir}
  bin_dir: ${bin}
  pgpass: ${path.join(dir, `pgpass-${name}`)}
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: rep}
    rewind: {username: rewinder, password: rew}
  parameters:
    unix_socket_directories: ${path.join(dir, 'sock')}
`);
      members.push({ name, pgPort, restPort, dataDir, config, patroni: undefined });
    }
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    mkdirSync(path.join(dir, 'sock'), { recursive: true });
    const cluster = new OwnedPatroni(dir, members, etcdPorts);
    cluster.#chown(dir);
    try {
      await cluster.#startEtcd();
      for (const m of members) {
        cluster.#startPatroni(m);
        // pg1 bootstraps; the others clone it. They start only once it leads: started after a
        // fixed second on a busy machine, another member won the race to bootstrap and pg1,
        // with a data directory of its own, never joined (seen in a full run).
        if (m.name === 'pg1') await cluster.#leading('pg1', 60_000);
      }
      await cluster.healthy(60_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  #chown(dir: string): void {
    if (!this.#user) return;
    spawnSync('chown', ['-R', `${this.#user.uid}:${this.#user.gid}`, dir]);
    chownSync(dir, this.#user.uid, this.#user.gid);
  }

  #spawn(command: string, args: string[], log: string): ChildProcess {
    const child = spawn(command, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(this.#user ?? {}), env: { ...process.env, HOME: this.dir } });
    const keep = (d: Buffer) => {
      this.#logs.push(`[${log}] ${d.toString()}`);
      if (this.#logs.length > 400) this.#logs.splice(0, 100);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  }

  async #startEtcd(): Promise<void> {
    const [client, peer] = this.#etcdPorts;
    this.#etcd = this.#spawn('etcd', [
      '--name', 'e1', '--data-dir', path.join(this.dir, 'data', 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `e1=http://127.0.0.1:${peer}`, '--initial-cluster-state', 'new',
    ], 'etcd');
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      if ((await fetch(`http://127.0.0.1:${client}/health`).then((r) => r.ok, () => false))) return;
      await sleep(100);
    }
    throw new Error(`etcd did not start:\n${this.log()}`);
  }

  #startPatroni(m: Member): void {
    m.patroni = this.#spawn('patroni', [m.config], m.name);
  }

  log(): string {
    return this.#logs.slice(-60).join('');
  }

  /** The members as Patroni's REST API reports them (from any member that answers). */
  async cluster(): Promise<ClusterMember[]> {
    for (const m of this.members) {
      const r = await fetch(`http://127.0.0.1:${m.restPort}/cluster`, { signal: AbortSignal.timeout(1_000) }).then((x) => (x.ok ? x.json() : null), () => null) as { members?: ClusterMember[] } | null;
      if (r?.members) return r.members;
    }
    return [];
  }

  /** Resolves once `name` is the running leader. */
  async #leading(name: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if ((await this.cluster()).some((x) => x.name === name && x.role === 'leader' && x.state === 'running')) return;
      await sleep(250);
    }
    throw new Error(`${name} did not bootstrap and lead:\n${this.log()}`);
  }

  /** Resolves when there is a running leader and a streaming synchronous standby (and, with all3, the third member streaming too). */
  async healthy(timeoutMs = 60_000, all3 = true): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const members = await this.cluster();
      const leader = members.find((x) => x.role === 'leader' && x.state === 'running');
      const sync = members.filter((x) => x.role === 'sync_standby' && /streaming|running/.test(x.state));
      const replicas = members.filter((x) => (x.role === 'replica' || x.role === 'sync_standby') && /streaming|running/.test(x.state));
      if (leader && sync.length >= 1 && (!all3 || replicas.length >= 2)) return;
      await sleep(250);
    }
    throw new Error(`the Patroni cluster is not healthy: ${JSON.stringify(await this.cluster())}\n${this.log()}`);
  }

  async #leader(): Promise<Member> {
    const name = (await this.cluster()).find((x) => x.role === 'leader')?.name;
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no leader: ${JSON.stringify(await this.cluster())}`);
    return m;
  }

  /** A planned switchover to the synchronous standby (as `patronictl switchover` does, through the REST API). */
  async switchover(): Promise<void> {
    const leader = await this.#leader();
    const candidate = (await this.cluster()).find((x) => x.role === 'sync_standby')?.name;
    const r = await fetch(`http://127.0.0.1:${leader.restPort}/switchover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ leader: leader.name, candidate }) });
    if (!r.ok) throw new Error(`switchover refused: ${r.status} ${await r.text()}`);
  }

  #postmasterPid(m: Member): number {
    return Number(readFileSync(path.join(m.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /** kill -9 of the leader's postmaster (its Patroni stays, and sees it gone). */
  async killPostmaster(): Promise<void> {
    process.kill(this.#postmasterPid(await this.#leader()), 'SIGKILL');
  }

  /** kill -9 of the leader's Patroni and postmaster: the node is lost. Resolves the member, for restart(). */
  async killNode(): Promise<Member> {
    const leader = await this.#leader();
    const pid = this.#postmasterPid(leader);
    leader.patroni?.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');
    return leader;
  }

  /** Starts a member's Patroni again (a supervisor restarting the lost node): it rejoins as a replica. */
  restart(m: Member): void {
    this.#startPatroni(m);
  }

  async stop(): Promise<void> {
    for (const m of this.members) {
      m.patroni?.kill('SIGKILL');
      try {
        process.kill(this.#postmasterPid(m), 'SIGKILL');
      } catch {
        // not running
      }
    }
    this.#etcd?.kill('SIGKILL');
    await sleep(300);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
