// Honest outcomes: a write whose answer is lost. Between the IdP and PostgreSQL stands a TCP
// proxy that, when armed, cuts the connection at the COMMIT of a transaction, either after
// passing it to the server (committed; the answer lost) or before (never sent). The
// directory reads the account back and says what is true: the change is reported saved when
// it was, and "not saved" (a plain failure) when it was not. Nobody is told "failed" for a
// change that was made.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { OutcomeUnknownError, PostgresDatabase, migrate } from '../../src/store/database/index.ts';
import { StoreUnavailableError } from '../../src/store/index.ts';
import { newSchema, TEST_DATABASE_URL } from '../support/database.ts';

/** Forwards to PostgreSQL; `armed` decides what happens to the next COMMIT a client sends. */
class CuttingProxy {
  armed: 'after-commit-sent' | 'before-commit-sent' | null = null;
  cuts = 0;
  readonly #server: Server;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    let proxy: CuttingProxy | undefined;
    const server = createServer((client: Socket) => {
      const upstream = createConnection(target);
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cut);
      upstream.on('error', cut);
      upstream.on('data', (d) => client.write(d));
      client.on('data', (d) => {
        // A simple-protocol COMMIT message ('Q', length, "commit\0"): node-postgres sends
        // transaction control as a simple query of its own.
        const commit = proxy!.armed !== null && d.length === 12 && d[0] === 0x51 && d.subarray(5).toString('latin1') === 'commit\u0000';
        if (commit && proxy!.armed === 'before-commit-sent') {
          proxy!.armed = null;
          proxy!.cuts++;
          cut();
          return;
        }
        upstream.write(d);
        if (commit && proxy!.armed === 'after-commit-sent') {
          proxy!.armed = null;
          proxy!.cuts++;
          // Give the server the COMMIT, never give the client its answer.
          upstream.removeAllListeners('data');
          setTimeout(cut, 200);
        }
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new CuttingProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('a write whose answer is lost is read back, not reported as failed', function () {
  this.timeout(30_000);
  let proxy: CuttingProxy;
  let schema: Awaited<ReturnType<typeof newSchema>>;
  let db: PostgresDatabase;
  let directory: Directory;

  before(async () => {
    const target = new URL(TEST_DATABASE_URL);
    proxy = await CuttingProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    schema = await newSchema();
    target.host = `127.0.0.1:${proxy.port}`;
    db = new PostgresDatabase({ url: target.toString(), schema: schema.schema, poolSize: 2 });
    await migrate(db, schema.schema);
    directory = new Directory(db, Date.now);
  });
  after(async () => {
    await db.close();
    await proxy.close();
    await schema.drop();
  });

  const account = (loginId: string) => directory.create({
    loginId, displayName: 'Lost Answer', givenName: 'Lost', familyName: 'Answer', school: { code: 'S', name: 'S' }, level: 'P5',
    roles: ['student'], status: 'active', passwordHash: 'old-hash', mustChangePassword: true, passwordChangedAt: 0, passwordHistory: [], questions: [],
  });

  it('committed, answer lost: the change is reported saved, and it is', async () => {
    const a = await account('committed@students.edu.sg');
    proxy.armed = 'after-commit-sent';
    const written = await directory.update(a.id, (x) => ({ ...x, passwordHash: 'new-hash', mustChangePassword: false }));
    assert.equal(proxy.cuts, 1, 'the connection was cut at the commit');
    assert.equal(written?.passwordHash, 'new-hash');
    assert.equal((await directory.get(a.id))?.passwordHash, 'new-hash');
  });

  it('never sent: a plain failure saying the account is as it was, and it is', async () => {
    const a = await account('never-sent@students.edu.sg');
    proxy.armed = 'before-commit-sent';
    await assert.rejects(directory.update(a.id, (x) => ({ ...x, passwordHash: 'new-hash' })), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.ok(!(err instanceof OutcomeUnknownError), 'known: not saved');
      assert.match(err.message, /not saved: .*the account is as it was/);
      return true;
    });
    assert.equal((await directory.get(a.id))?.passwordHash, 'old-hash');
  });

  it('a new account whose answer was lost is found, and reported created', async () => {
    proxy.armed = 'after-commit-sent';
    const a = await account('created@students.edu.sg');
    assert.equal(proxy.cuts, 3);
    assert.equal((await directory.findByLoginId('created@students.edu.sg'))?.id, a.id);
  });
});
