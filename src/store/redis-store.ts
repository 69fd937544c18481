// Store on Redis through ioredis: standalone (REDIS_URL), Sentinel or Cluster.
// Commands fail fast while Redis is unreachable (no offline queue) and surface as
// StoreUnavailableError; ioredis keeps reconnecting in the background, so service
// resumes by itself when Redis returns.
//
// Durability. Redis replicates asynchronously: a write the master acknowledged can still
// be lost when a replica is promoted before it received it (a planned Sentinel failover
// leaves the old master taking writes for seconds; a crash loses what was in flight).
// Accounts are no longer here (the directory is in the database); a write to a lock
// (isDurableKey) is sent on a connection of its own, followed in the same pipeline by
// WAIT <replicas> <timeout>; it resolves only when that many replicas hold it, and fails
// with StoreUnavailableError (the user sees SSPR 5019) otherwise. The failover candidate
// then has every write anyone was told succeeded. Ephemeral keys are written without it.
import { Cluster, Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import { isDurableKey } from './keys.ts';
import { StoreUnavailableError, type IndexedRecord, type SetOptions, type Store, type StreamEntry } from './store.ts';

export interface RedisConnection {
  url?: string | undefined;
  clusterNodes?: string[];
  sentinels?: string[];
  sentinelName?: string | undefined;
  keyPrefix: string;
  /** Replicas that must acknowledge a lock's write; 'auto' = 0 (Redis holds only what may be lost). */
  waitReplicas?: number | 'auto' | undefined;
  /** How long a durable write waits for those acknowledgements. */
  waitTimeoutMs?: number | undefined;
}

const CAS = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 else return 0 end`;
const SET_ADD_TTL = `redis.call('SADD', KEYS[1], ARGV[1])
local want = tonumber(ARGV[2])
if want > 0 then
  local have = redis.call('PTTL', KEYS[1])
  if have >= 0 and have < want or have == -1 then redis.call('PEXPIRE', KEYS[1], want) end
end
return 1`;

// A counter and its window in one command (EVALSHA): cheaper for both sides than MULTI,
// INCRBY, PEXPIRE, EXEC (ioredis builds a transaction object for each).
const INCREMENT = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return n`;

// Fields of a hash and its TTL in one command (ARGV[1]: TTL in ms, 0 for none; then fields and values).
const HASH_SET_TTL = `redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

// A record and its indexes in one command (putIndexed): ARGV[1] the TTL in ms, ARGV[2]
// 'hash' or 'string', ARGV[i + 1] the member for KEYS[i] (i >= 2), then the string or the
// hash's fields and values. The indexes first: a record is never without them.
const PUT_INDEXED = `local ttl = tonumber(ARGV[1])
local n = #KEYS
for i = 2, n do
  redis.call('SADD', KEYS[i], ARGV[i + 1])
  local have = redis.call('PTTL', KEYS[i])
  if have >= 0 and have < ttl or have == -1 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
if ARGV[2] == 'hash' then
  redis.call('HSET', KEYS[1], unpack(ARGV, n + 2))
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('SET', KEYS[1], ARGV[n + 2], 'PX', ttl)
end
return 1`;

const HASH_UPDATE = `if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`;

/** Replies that mean "this node cannot serve writes now" (failover, loading, cluster down), not a bug of ours. */
const READY_PROBE = 'r'.repeat(4096);
const UNAVAILABLE_REPLY = /^(OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

function hostPort(entry: string): { host: string; port: number } {
  const i = entry.lastIndexOf(':');
  return { host: entry.slice(0, i), port: Number(entry.slice(i + 1)) };
}

export function describeConnection(c: RedisConnection): string {
  if (c.clusterNodes?.length) return `Redis Cluster (${c.clusterNodes.join(', ')})`;
  if (c.sentinels?.length) return `Redis Sentinel ${c.sentinelName ?? 'mymaster'} (${c.sentinels.join(', ')})`;
  return `Redis ${new URL(c.url ?? 'redis://127.0.0.1:6379').host}`;
}

/**
 * The replica count a lock's write waits for. Since the directory moved to the database,
 * nothing in Redis needs it: 'auto' is 0, and a Redis replica that is down neither slows
 * a sign-in nor makes /readyz fail. REDIS_WAIT_REPLICAS=1 confirms locks on a replica.
 */
export function waitReplicasFor(c: RedisConnection): number {
  return typeof c.waitReplicas === 'number' ? c.waitReplicas : 0;
}

/** A client method used both directly and queued on a pipeline (the pipeline's return value is ignored). */
/** The scripts, defined on every connection: ioredis sends them by SHA1 (EVALSHA), not their text each time. */
interface Scripts {
  idpCompareAndSet(key: string, expected: string, next: string): Promise<number>;
  idpSetAddTtl(key: string, member: string, ttlMs: number): Promise<number>;
  idpHashUpdate(key: string, ...fieldsAndValues: string[]): Promise<number>;
  idpIncrement(key: string, by: number, ttlMs: number): Promise<number>;
  idpHashSetTtl(key: string, ttlMs: number, ...fieldsAndValues: string[]): Promise<number>;
  idpPutIndexed(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
}
function defineScripts(client: Redis | Cluster): void {
  client.defineCommand('idpCompareAndSet', { numberOfKeys: 1, lua: CAS });
  client.defineCommand('idpSetAddTtl', { numberOfKeys: 1, lua: SET_ADD_TTL });
  client.defineCommand('idpHashUpdate', { numberOfKeys: 1, lua: HASH_UPDATE });
  client.defineCommand('idpIncrement', { numberOfKeys: 1, lua: INCREMENT });
  client.defineCommand('idpHashSetTtl', { numberOfKeys: 1, lua: HASH_SET_TTL });
  client.defineCommand('idpPutIndexed', { lua: PUT_INDEXED });
}

type Command = (c: Redis & Scripts) => Promise<unknown>;

/** A TTL as Redis takes it: whole milliseconds, at least 1. */
function px(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly client: Redis | Cluster;
  /** Prepended to every key by the client. */
  readonly prefix: string;
  readonly waitReplicas: number;
  readonly #waitTimeoutMs: number;
  /** Durable writes and their WAIT: a connection of their own, so WAIT never stalls other traffic. */
  #durableClient: Redis | Cluster | undefined;

  constructor(connection: RedisConnection) {
    this.prefix = connection.keyPrefix;
    this.waitReplicas = waitReplicasFor(connection);
    this.#waitTimeoutMs = connection.waitTimeoutMs ?? 1_000;
    const common: RedisOptions = {
      keyPrefix: connection.keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: Math.max(5_000, this.#waitTimeoutMs + 2_000),
      retryStrategy: (times) => Math.min(times * 100, 2_000),
      // A demoted master answers writes with READONLY: reconnect, which asks the
      // sentinels (or the cluster) where the master is now.
      reconnectOnError: (err) => /^READONLY\b/.test(err.message),
    };
    if (connection.clusterNodes?.length) {
      this.client = new Cluster(connection.clusterNodes.map(hostPort), {
        enableOfflineQueue: false,
        keyPrefix: connection.keyPrefix,
        clusterRetryStrategy: (times) => Math.min(times * 100, 2_000),
        redisOptions: { ...common, keyPrefix: undefined },
      } as ConstructorParameters<typeof Cluster>[1]);
    } else if (connection.sentinels?.length) {
      this.client = new Redis({
        ...common,
        sentinels: connection.sentinels.map(hostPort),
        name: connection.sentinelName ?? 'mymaster',
        // Sentinels announce +switch-master: drop the old master at once rather than
        // writing to it until it is demoted.
        failoverDetector: true,
      });
    } else {
      this.client = new Redis(connection.url ?? 'redis://127.0.0.1:6379', common);
    }
    // Errors are reported through failing commands and /readyz; without a listener
    // ioredis would print every reconnection failure.
    this.client.on('error', () => {});
    defineScripts(this.client);
    if (this.waitReplicas > 0) {
      this.#durableClient = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
      this.#durableClient.on('error', () => {});
      defineScripts(this.#durableClient);
    }
  }

  /** The connection a write to `key` goes on: durable keys on the durable connection. */
  #on(key: string): Redis | Cluster {
    return this.#durableClient && isDurableKey(key) ? this.#durableClient : this.client;
  }

  /** Resolves once connected; rejects with a clear message after timeoutMs. */
  async ready(timeoutMs = 10_000): Promise<void> {
    await Promise.all([this.client, this.#durableClient].map((client) => {
      if (!client || client.status === 'ready') return undefined;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(new StoreUnavailableError(`Redis not reachable within ${timeoutMs} ms`));
        }, timeoutMs);
        const onReady = () => {
          cleanup();
          resolve();
        };
        const cleanup = () => {
          clearTimeout(timer);
          client.off('ready', onReady);
        };
        client.on('ready', onReady);
      });
    }));
  }

  /** The main connection with the scripts defined on it (defineScripts). */
  get #scripts(): Redis & Scripts {
    return this.client as Redis & Scripts;
  }

  async #run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      // A reply error is a bug of ours (wrong type, bad script) unless it says the node
      // cannot serve now; anything else means Redis could not be reached or did not answer.
      if (err instanceof StoreUnavailableError) throw err;
      if ((err as Error).name === 'ReplyError' && !UNAVAILABLE_REPLY.test((err as Error).message)) throw err;
      throw new StoreUnavailableError((err as Error).message);
    }
  }

  /**
   * One write command. To a durable key (and when replicas are required) it goes on the
   * durable connection followed by WAIT, and resolves only when enough replicas hold it.
   */
  #write<T>(key: string, command: Command, parse: (reply: unknown) => T): Promise<T> {
    return this.#run(async () => {
      const client = this.#on(key);
      if (client === this.client) return parse(await command(client as Redis & Scripts));
      let replies: Array<[Error | null, unknown]> = [];
      // A Cluster that moved the slot answers MOVED/ASK without executing the write: ioredis
      // does not redirect pipelines that write, so follow the new slot map (twice at most).
      for (let attempt = 0; ; attempt++) {
        const pipeline: ChainableCommander = client.pipeline();
        void command(pipeline as unknown as Redis & Scripts);
        pipeline.wait(this.waitReplicas, this.#waitTimeoutMs);
        replies = (await pipeline.exec()) ?? [];
        const moved = replies[0]?.[0] && /^(MOVED|ASK) /.test(replies[0][0].message);
        if (!moved || attempt >= 2 || !(client instanceof Cluster)) break;
        await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
      }
      const [writeErr, reply] = replies[0] ?? [new Error('pipeline aborted'), null];
      if (writeErr) throw writeErr;
      const [waitErr, acked] = replies[1] ?? [new Error('pipeline aborted'), 0];
      if (waitErr) throw waitErr;
      if (Number(acked) < this.waitReplicas) {
        throw new StoreUnavailableError(`durable write not confirmed: ${String(acked)} of ${this.waitReplicas} replicas acknowledged within ${this.#waitTimeoutMs} ms`);
      }
      return parse(reply);
    });
  }

  get(key: string): Promise<string | null> {
    // Reads go on the main connection, never queued behind a WAIT: both connections reach
    // the same master (and both leave a demoted one at +switch-master).
    return this.#run(() => this.client.get(key));
  }

  set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const ms = options.ttlMs === undefined ? undefined : px(options.ttlMs);
    const command: Command = (c) => {
      if (ms !== undefined) return options.onlyIfAbsent ? c.set(key, value, 'PX', ms, 'NX') : c.set(key, value, 'PX', ms);
      if (options.keepTtl) return c.set(key, value, 'KEEPTTL');
      return options.onlyIfAbsent ? c.set(key, value, 'NX') : c.set(key, value);
    };
    return this.#write(key, command, (reply) => reply === 'OK');
  }

  compareAndSet(key: string, expected: string, next: string): Promise<boolean> {
    return this.#write(key, (c) => c.idpCompareAndSet(key, expected, next), (reply) => reply === 1);
  }

  del(key: string): Promise<void> {
    return this.#write(key, (c) => c.del(key), () => undefined);
  }

  ttl(key: string): Promise<number> {
    return this.#run(() => this.client.pttl(key));
  }

  expire(key: string, ttlMs: number): Promise<void> {
    return this.#run(async () => {
      await this.client.pexpire(key, px(ttlMs));
    });
  }

  increment(key: string, ttlMs: number, by = 1): Promise<number> {
    return this.#run(async () => Number(await this.#scripts.idpIncrement(key, by, px(ttlMs))));
  }

  hashSet(key: string, fields: Record<string, string>, ttlMs?: number): Promise<void> {
    return this.#run(async () => {
      await this.#scripts.idpHashSetTtl(key, ttlMs === undefined ? 0 : px(ttlMs), ...Object.entries(fields).flat());
    });
  }

  hashUpdate(key: string, fields: Record<string, string>): Promise<boolean> {
    return this.#write(key, (c) => c.idpHashUpdate(key, ...Object.entries(fields).flat()), (reply) => reply === 1);
  }

  hashGetAll(key: string): Promise<Record<string, string> | null> {
    return this.#run(async () => {
      const h = await this.client.hgetall(key);
      return Object.keys(h).length ? h : null;
    });
  }

  async putIndexed(record: IndexedRecord, ttlMs: number, indexes: ReadonlyArray<{ key: string; member: string }>): Promise<void> {
    const put = () => ('fields' in record ? this.hashSet(record.key, record.fields, ttlMs) : this.set(record.key, record.value, { ttlMs }).then(() => undefined));
    // A Cluster may hold the keys on different nodes (a script's keys must share a slot); a
    // durable key's write goes on its own connection with WAIT (#write).
    if (indexes.length === 0) return put();
    if (this.client instanceof Cluster || [record, ...indexes].some(({ key }) => this.#on(key) !== this.client)) {
      await Promise.all([...indexes.map((index) => this.setAdd(index.key, index.member, ttlMs)), put()]);
      return;
    }
    const value = 'fields' in record ? Object.entries(record.fields).flat() : [record.value];
    await this.#run(() => this.#scripts.idpPutIndexed(1 + indexes.length, record.key, ...indexes.map((i) => i.key), px(ttlMs), 'fields' in record ? 'hash' : 'string', ...indexes.map((i) => i.member), ...value));
  }

  setAdd(key: string, member: string, ttlMs?: number): Promise<void> {
    return this.#write(key, (c) => c.idpSetAddTtl(key, member, ttlMs === undefined ? 0 : Math.ceil(ttlMs)), () => undefined);
  }

  setMembers(key: string): Promise<string[]> {
    return this.#run(() => this.client.smembers(key));
  }

  setRemove(key: string, member: string): Promise<void> {
    return this.#write(key, (c) => c.srem(key, member), () => undefined);
  }

  indexAdd(key: string, member: string): Promise<void> {
    return this.#write(key, (c) => c.zadd(key, 0, member), () => undefined);
  }

  indexRemove(key: string, member: string): Promise<void> {
    return this.#write(key, (c) => c.zrem(key, member), () => undefined);
  }

  indexRange(key: string, prefix: string, limit: number, after?: string): Promise<string[]> {
    return this.#run(async () => {
      const min = after !== undefined && after >= prefix ? `(${after}` : `[${prefix}`;
      const max = `[${prefix}\xff`;
      const members = await this.client.zrangebylex(key, min, max, 'LIMIT', 0, limit);
      return members.filter((m) => m.startsWith(prefix));
    });
  }

  streamAdd(key: string, fields: Record<string, string>, maxLen: number): Promise<string> {
    const flat = Object.entries(fields).flat();
    return this.#write(key, (c) => c.xadd(key, 'MAXLEN', maxLen, '*', ...flat), (id) => (typeof id === 'string' ? id : ''));
  }

  streamRange(key: string, count: number, before?: string): Promise<StreamEntry[]> {
    return this.#run(async () => {
      const end = before === undefined ? '+' : `(${before}`;
      const rows = await this.client.xrevrange(key, end, '-', 'COUNT', count);
      return rows.map(([id, flat]) => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
        return { id, fields };
      });
    });
  }

  #masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  ping(): Promise<void> {
    return this.#run(async () => {
      await Promise.all(this.#masters().map((n) => n.ping()));
    });
  }

  /**
   * Ready for writes: every master answers, still is a master (a demoted one is not), and
   * has the replicas online that durable writes wait for.
   */
  writable(): Promise<void> {
    return this.#run(async () => {
      for (const c of [this.client, this.#durableClient]) {
        if (c && c.status !== 'ready') throw new StoreUnavailableError(`Redis connection is ${c.status}`);
      }
      if (this.client instanceof Cluster) {
        const info = await this.client.nodes('master')[0]?.cluster('INFO');
        if (!String(info).includes('cluster_state:ok')) throw new StoreUnavailableError('Redis Cluster state is not ok');
      }
      await Promise.all(this.#masters().map(async (node) => {
        const info = String(await node.info('replication'));
        const where = `${node.options.host}:${node.options.port}`;
        if (!/^role:master\r?$/m.test(info)) {
          // Connected to a master that was demoted while nothing was written (a write would
          // have met READONLY and reconnected): reconnect now, which asks the sentinels where
          // the master is, so that readiness returns without waiting for traffic.
          if (!(this.client instanceof Cluster)) for (const c of [this.client, this.#durableClient]) (c as Redis | undefined)?.disconnect(true);
          throw new StoreUnavailableError(`${where} is not a master`);
        }
        const online = info.match(/^slave\d+:.*state=online/gm)?.length ?? 0;
        if (online < this.waitReplicas) throw new StoreUnavailableError(`${where} has ${online} of ${this.waitReplicas} replicas online`);
      }));
      // A write the size of what one sign-in writes (session, flow, participants: about 4 KB):
      // a master out of memory under noeviction (OOM) or read-only refuses it, and then nobody
      // can sign in. (Redis counts the request itself: a tiny write can still pass when a
      // sign-in's would not.)
      try {
        await this.client.set(`ready:{${process.pid}}`, READY_PROBE, 'PX', 10_000);
      } catch (err) {
        throw new StoreUnavailableError(`Redis refuses writes: ${(err as Error).message}`);
      }
    });
  }

  async close(): Promise<void> {
    for (const c of [this.#durableClient, this.client]) {
      if (!c) continue;
      try {
        await c.quit();
      } catch {
        c.disconnect();
      }
    }
  }
}
