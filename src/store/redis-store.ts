// Store on Redis through ioredis: standalone (REDIS_URL), Sentinel or Cluster.
// Commands fail fast while Redis is unreachable (no offline queue) and surface as
// StoreUnavailableError; ioredis keeps reconnecting in the background, so service
// resumes by itself when Redis returns.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError, type SetOptions, type Store, type StreamEntry } from './store.ts';

export interface RedisConnection {
  url?: string | undefined;
  clusterNodes?: string[];
  sentinels?: string[];
  sentinelName?: string | undefined;
  keyPrefix: string;
}

const CAS = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 else return 0 end`;
const SET_ADD_TTL = `redis.call('SADD', KEYS[1], ARGV[1])
local want = tonumber(ARGV[2])
if want > 0 then
  local have = redis.call('PTTL', KEYS[1])
  if have >= 0 and have < want or have == -1 then redis.call('PEXPIRE', KEYS[1], want) end
end
return 1`;

function hostPort(entry: string): { host: string; port: number } {
  const i = entry.lastIndexOf(':');
  return { host: entry.slice(0, i), port: Number(entry.slice(i + 1)) };
}

export function describeConnection(c: RedisConnection): string {
  if (c.clusterNodes?.length) return `Redis Cluster (${c.clusterNodes.join(', ')})`;
  if (c.sentinels?.length) return `Redis Sentinel ${c.sentinelName ?? 'mymaster'} (${c.sentinels.join(', ')})`;
  return `Redis ${new URL(c.url ?? 'redis://127.0.0.1:6379').host}`;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly client: Redis | Cluster;
  /** Prepended to every key by the client. */
  readonly prefix: string;

  constructor(connection: RedisConnection) {
    this.prefix = connection.keyPrefix;
    const common: RedisOptions = {
      keyPrefix: connection.keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: 5_000,
      retryStrategy: (times) => Math.min(times * 100, 2_000),
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
      });
    } else {
      this.client = new Redis(connection.url ?? 'redis://127.0.0.1:6379', common);
    }
    // Errors are reported through failing commands and /readyz; without a listener
    // ioredis would print every reconnection failure.
    this.client.on('error', () => {});
  }

  /** Resolves once connected; rejects with a clear message after timeoutMs. */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
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
        this.client.off('ready', onReady);
      };
      this.client.on('ready', onReady);
    });
  }

  async #run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      // A reply error is a bug of ours (wrong type, bad script); anything else means
      // Redis could not be reached or did not answer in time.
      if ((err as Error).name === 'ReplyError') throw err;
      throw new StoreUnavailableError((err as Error).message);
    }
  }

  get(key: string): Promise<string | null> {
    return this.#run(() => this.client.get(key));
  }

  set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    return this.#run(async () => {
      const c = this.client;
      const ms = options.ttlMs === undefined ? undefined : Math.max(1, Math.ceil(options.ttlMs));
      let reply: string | null;
      if (ms !== undefined) reply = options.onlyIfAbsent ? await c.set(key, value, 'PX', ms, 'NX') : await c.set(key, value, 'PX', ms);
      else if (options.keepTtl) reply = await c.set(key, value, 'KEEPTTL');
      else reply = options.onlyIfAbsent ? await c.set(key, value, 'NX') : await c.set(key, value);
      return reply === 'OK';
    });
  }

  compareAndSet(key: string, expected: string, next: string): Promise<boolean> {
    return this.#run(async () => (await this.client.eval(CAS, 1, key, expected, next)) === 1);
  }

  del(key: string): Promise<void> {
    return this.#run(async () => {
      await this.client.del(key);
    });
  }

  ttl(key: string): Promise<number> {
    return this.#run(() => this.client.pttl(key));
  }

  expire(key: string, ttlMs: number): Promise<void> {
    return this.#run(async () => {
      await this.client.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
    });
  }

  increment(key: string, ttlMs: number): Promise<number> {
    return this.#run(async () => {
      const replies = await this.client.multi().incr(key).pexpire(key, Math.max(1, Math.ceil(ttlMs)), 'NX').exec();
      const [err, value] = replies?.[0] ?? [new Error('transaction aborted'), null];
      if (err) throw err;
      return Number(value);
    });
  }

  hashSet(key: string, fields: Record<string, string>, ttlMs?: number): Promise<void> {
    return this.#run(async () => {
      const multi = this.client.multi().hset(key, fields);
      if (ttlMs !== undefined) multi.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
      await multi.exec();
    });
  }

  hashGetAll(key: string): Promise<Record<string, string> | null> {
    return this.#run(async () => {
      const h = await this.client.hgetall(key);
      return Object.keys(h).length ? h : null;
    });
  }

  setAdd(key: string, member: string, ttlMs?: number): Promise<void> {
    return this.#run(async () => {
      await this.client.eval(SET_ADD_TTL, 1, key, member, ttlMs === undefined ? 0 : Math.ceil(ttlMs));
    });
  }

  setMembers(key: string): Promise<string[]> {
    return this.#run(() => this.client.smembers(key));
  }

  setRemove(key: string, member: string): Promise<void> {
    return this.#run(async () => {
      await this.client.srem(key, member);
    });
  }

  indexAdd(key: string, member: string): Promise<void> {
    return this.#run(async () => {
      await this.client.zadd(key, 0, member);
    });
  }

  indexRemove(key: string, member: string): Promise<void> {
    return this.#run(async () => {
      await this.client.zrem(key, member);
    });
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
    return this.#run(async () => {
      const flat = Object.entries(fields).flat();
      const id = await this.client.xadd(key, 'MAXLEN', maxLen, '*', ...flat);
      return id ?? '';
    });
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

  ping(): Promise<void> {
    return this.#run(async () => {
      if (this.client instanceof Cluster) {
        await Promise.all(this.client.nodes('master').map((n) => n.ping()));
      } else {
        await this.client.ping();
      }
    });
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
