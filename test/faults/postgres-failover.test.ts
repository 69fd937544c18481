// Acknowledged means kept, on the directory's production topology: three PostgreSQL members
// under Patroni, synchronous replication in strict mode (test/support/patroni.ts), the IdP
// given every member in DATABASE_URL. Under first-login-style password changes (HTTP, as a
// browser), CLI resets and CLI imports (test/support/durability-load.ts), the database
// fails over three ways:
//   - a planned switchover to the synchronous standby;
//   - kill -9 of the leader's postmaster (Patroni fails over: primary_start_timeout 0);
//   - kill -9 of the leader's Patroni and postmaster (a node lost; restarted afterwards).
// Every password a user or operator was told about is the one in force afterwards (or a
// later one, only when that later attempt was not confirmed), every acknowledged import row
// exists, the CLI failed in one line, and /readyz is 200 again. The longest time without an
// acknowledged password change is printed.
import { OVERRIDES, scenario } from '../support/failover-scenario.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { OwnedPatroni } from '../support/patroni.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { migrate, PostgresDatabase } from '../../src/store/database/index.ts';
import { RedisStore } from '../../src/store/index.ts';

describe('PostgreSQL failover under load (Patroni, strict synchronous replication): acknowledged writes survive', function () {
  this.timeout(240_000);
  let patroni: OwnedPatroni;
  let t: TestIdp;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    patroni = await OwnedPatroni.start();
    const database = new PostgresDatabase({ url: patroni.url, schema: 'public', connectTimeoutMs: 1_000 });
    await migrate(database, 'public');
    const url = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    t = await startTestIdp({ store, database: { database, env: { DATABASE_URL: patroni.url }, close: () => database.close() }, seed: false, overrides: OVERRIDES });
    cliEnv = { DATABASE_URL: patroni.url, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
  });
  after(async () => {
    await t?.close();
    await patroni?.stop();
  });

  it('a planned switchover: nothing acknowledged is lost', async () => {
    await scenario('postgres switchover', t, cliEnv, () => patroni.switchover(), () => patroni.healthy());
  });

  it('kill -9 of the primary\'s postmaster: nothing acknowledged is lost', async () => {
    await scenario('postgres postmaster killed', t, cliEnv, () => patroni.killPostmaster(), () => patroni.healthy(90_000), 8_000);
  });

  it('kill -9 of the primary\'s Patroni and postmaster (a node lost, then restarted): nothing acknowledged is lost', async () => {
    let lost: Awaited<ReturnType<OwnedPatroni['killNode']>> | undefined;
    await scenario('postgres node lost', t, cliEnv, async () => {
      lost = await patroni.killNode();
    }, async () => {
      patroni.restart(lost!);
      await patroni.healthy(90_000);
    }, 12_000);
  });
});
