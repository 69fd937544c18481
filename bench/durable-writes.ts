// Durable account changes per second on the directory's production topology: three
// PostgreSQL members under Patroni in strict synchronous mode (test/support/patroni.ts; every
// commit waits for the synchronous standby), against the same changes on the machine's
// single PostgreSQL server (no standby) in the same run, alternating slices.
// A change is what a password change writes: Directory.update of one account (read FOR
// UPDATE, write the record, one transaction), 8 at a time, each on its own account.
// Run: node bench/durable-writes.ts   (SECONDS=5 per slice; needs patroni and etcd-server)
import { Directory } from '../src/domain/accounts/directory.ts';
import { migrate, PostgresDatabase, type Database } from '../src/store/database/index.ts';
import { newSchema } from '../test/support/database.ts';
import { OwnedPatroni } from '../test/support/patroni.ts';
import { alternate, drive, mergeDriven } from './lib/load.ts';
import { report, round } from './lib/stats.ts';

const SECONDS = Number(process.env.SECONDS ?? 5);
const CONCURRENCY = 8;

async function accounts(database: Database): Promise<{ directory: Directory; ids: string[] }> {
  const directory = new Directory(database, Date.now);
  const ids: string[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const a = await directory.create({
      loginId: `durable_${i}@students.edu.sg`, displayName: `Durable ${i}`, givenName: 'Durable', familyName: String(i),
      school: { code: 'B', name: 'Bench' }, level: 'P5', roles: ['student'], status: 'active', passwordHash: 'h0',
      mustChangePassword: false, passwordChangedAt: 0, passwordHistory: [], questions: [],
    });
    ids.push(a.id);
  }
  return { directory, ids };
}

function changes(target: { directory: Directory; ids: string[] }) {
  let n = 0;
  return () => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker) => {
    const hash = `h${++n}`;
    await target.directory.update(target.ids[worker]!, (a) => ({ ...a, passwordHash: hash, passwordHistory: [a.passwordHash, ...a.passwordHistory].slice(0, 5), passwordChangedAt: Date.now() }));
  });
}

async function main() {
  const patroni = await OwnedPatroni.start();
  const schema = await newSchema();
  const replicated = new PostgresDatabase({ url: patroni.url, schema: 'public' });
  const single = new PostgresDatabase({ url: schema.env.DATABASE_URL, schema: schema.schema });
  try {
    await migrate(replicated, 'public');
    await migrate(single, schema.schema);
    const r = await alternate(6, changes(await accounts(single)), changes(await accounts(replicated)), mergeDriven);
    report('durable-writes', `account changes with a synchronous standby (Patroni, strict): ${r.product.perSecond}/s = ${round(r.ratio)} × the same on one PostgreSQL without a standby (${r.baseline.perSecond}/s); p50 ${r.product.p50ms} ms, p99 ${r.product.p99ms} ms`, {
      concurrency: CONCURRENCY,
      secondsPerSlice: SECONDS,
      synchronousStandby: { perSecond: r.product.perSecond, p50ms: r.product.p50ms, p99ms: r.product.p99ms, errors: r.product.errors },
      singleServer: { perSecond: r.baseline.perSecond, p50ms: r.baseline.p50ms, p99ms: r.baseline.p99ms, errors: r.baseline.errors },
      ratio: round(r.ratio),
      sliceRatios: r.ratios,
      note: 'both on this machine: the standbys share its two cores and disk with the primary, so the cost of the network round trip to a standby is not in these figures',
    });
  } finally {
    await replicated.close();
    await single.close();
    await schema.drop();
    await patroni.stop();
  }
}

await main();
