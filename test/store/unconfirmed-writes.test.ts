// Honest outcomes: a write whose answer is lost. Between the IdP and PostgreSQL stands a TCP
// proxy that, when armed, cuts the connection at the statement that commits (the COMMIT of
// a transaction, or an UPDATE that commits on its own), either after passing it to the
// server (committed; the answer lost) or before (never sent). The directory reads the
// account back: a change that is there is reported saved (once the synchronous standby has
// it too); one that is not there stays "not confirmed", since the session that sent it could
// still be committing. Nobody is told "failed" for a change that was made.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { OutcomeUnknownError, PostgresDatabase, migrate } from '../../src/store/database/index.ts';
import { newSchema, TEST_DATABASE_URL } from '../support/database.ts';

/** Forwards to PostgreSQL; `armed` decides what happens to the next committing statement a client sends. */
class CuttingProxy {
  armed: 'after-commit-sent' | 'before-commit-sent' | null = null;
  /** What commits: the COMMIT of a transaction, or an account UPDATE sent on its own. */
  at: 'commit' | 'update' = 'commit';
  cuts = 0;
  readonly #server: Server;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    let proxy: CuttingProxy | undefined;
    // Names of the prepared statements that update an account (node-postgres prepares a
    // statement once per connection; later calls send only its name).
    const updates = new Set<string>();
    const server = createServer((client: Socket) => {
      const upstream = createConnection(target);
      let first = true;
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cut);
      upstream.on('error', cut);
      upstream.on('data', (d) => client.write(d));
      client.on('data', (d) => {
        // A simple-protocol COMMIT message ('Q', length, "commit\0"): node-postgres sends
        // transaction control as a simple query of its own. An account UPDATE outside a
        // transaction goes as Parse/Bind/Execute/Sync: it commits at the Sync.
        const messages = first ? [] : parse(d);
        first = false;
        for (const m of messages) if (m.type === 'P' && m.text.startsWith('update accounts set')) updates.add(m.name);
        const commit = proxy!.armed !== null && (proxy!.at === 'commit'
          ? messages.some((m) => m.type === 'Q' && m.text === 'commit')
          : messages.some((m) => (m.type === 'P' && m.text.startsWith('update accounts set')) || (m.type === 'B' && updates.has(m.name))));
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

/** The frontend messages of a chunk: type, and for Query the text, Parse the statement name and text, Bind the statement name. */
function parse(d: Buffer): Array<{ type: string; name: string; text: string }> {
  const out: Array<{ type: string; name: string; text: string }> = [];
  const cstrings = (b: Buffer, n: number) => {
    const parts: string[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const end = b.indexOf(0, at);
      parts.push(b.subarray(at, end).toString('utf8'));
      at = end + 1;
    }
    return parts;
  };
  for (let off = 0; off + 5 <= d.length;) {
    const type = String.fromCharCode(d[off]!);
    const len = d.readInt32BE(off + 1);
    const body = d.subarray(off + 5, off + 1 + len);
    if (type === 'Q') out.push({ type, name: '', text: cstrings(body, 1)[0]! });
    else if (type === 'P') {
      const [name, text] = cstrings(body, 2);
      out.push({ type, name: name!, text: text! });
    } else if (type === 'B') out.push({ type, name: cstrings(body, 2)[1]!, text: '' });
    else out.push({ type, name: '', text: '' });
    off += 1 + len;
  }
  return out;
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
    proxy.at = 'update';
    proxy.armed = 'after-commit-sent';
    const written = await directory.update(a.id, (x) => ({ ...x, passwordHash: 'new-hash', mustChangePassword: false }));
    assert.equal(proxy.cuts, 1, 'the connection was cut at the commit');
    assert.equal(written?.passwordHash, 'new-hash');
    assert.equal((await directory.get(a.id))?.passwordHash, 'new-hash');
  });

  it('never sent: not reported as saved, nor as failed (the session that sent it could still be committing), and it is not there', async () => {
    const a = await account('never-sent@students.edu.sg');
    proxy.at = 'update';
    proxy.armed = 'before-commit-sent';
    await assert.rejects(directory.update(a.id, (x) => ({ ...x, passwordHash: 'new-hash' })), (err: Error) => {
      assert.ok(err instanceof OutcomeUnknownError, 'not confirmed');
      assert.match(err.message, /may or may not have been saved/);
      return true;
    });
    assert.equal((await directory.get(a.id))?.passwordHash, 'old-hash');
  });

  it('a new account whose answer was lost is found, and reported created', async () => {
    proxy.at = 'commit';
    proxy.armed = 'after-commit-sent';
    const a = await account('created@students.edu.sg');
    assert.equal(proxy.cuts, 3);
    assert.equal((await directory.findByLoginId('created@students.edu.sg'))?.id, a.id);
  });

  it('a change of name (a transaction with its search rows) whose COMMIT answer was lost is reported saved', async () => {
    const a = await account('renamed@students.edu.sg');
    proxy.at = 'commit';
    proxy.armed = 'after-commit-sent';
    const written = await directory.update(a.id, (x) => ({ ...x, displayName: 'Found Again', familyName: 'Again' }));
    assert.equal(proxy.cuts, 4);
    assert.equal(written?.displayName, 'Found Again');
    assert.deepEqual((await directory.searchNameParts('*', 'again', 5)).map((x) => x.id), [a.id]);
  });
});
