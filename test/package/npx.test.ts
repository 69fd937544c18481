// The IdP as a package: `npm pack` builds a tarball of compiled JavaScript that runs with
// no clone. Installed into an empty folder (dependencies from the local npm cache), run
// with flags on the project's Node and on the machine's own (Node 20 on CI), then a
// sign-in over HTTP on each.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENVIRONMENT, ENVIRONMENT_FILES, projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { freePort } from '../support/redis.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const ACCOUNT = { loginId: 'pack_tester@students.edu.sg', password: 'Packaged-Heron-24' };

describe('the npm package (npx school-idp)', function () {
  this.timeout(300_000);

  it('--help lists a flag for every environment variable', () => {
    const help = execFileSync(process.execPath, ['src/bin.ts', '--help'], { cwd: projectRoot, encoding: 'utf8' });
    const rows = help.split('\n').filter((l) => l.trimStart().startsWith('--'));
    for (const { env } of [...ENVIRONMENT, ...ENVIRONMENT_FILES]) assert.ok(rows.some((l) => l.includes(` ${env} `)), env);
    assert.match(help, /--seed-file <value>, --seed/);
    assert.match(help, /--rp-dir/);
  });

  it('refuses an unknown flag, naming it', () => {
    assert.throws(() => execFileSync(process.execPath, ['src/bin.ts', '--prot', '4000'], { cwd: projectRoot, stdio: 'pipe' }), /unknown flag --prot/);
  });

  describe('packed, installed and run on each Node it promises', () => {
    let dir: string;
    let app: string;
    let child: ChildProcess | undefined;
    after(() => {
      child?.kill('SIGTERM');
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('npm pack ships compiled JavaScript and no keys, tests or .ts; it installs from the tarball', async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'idp-pack-'));
      const packed = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
      const files = info!.files.map((f) => f.path);
      assert.ok(files.includes('dist/bin.js') && files.includes('dist/main.js') && files.includes('views/sign-in.ejs') && files.includes('config/default.json'), 'ships dist, views, config');
      assert.ok(files.some((f) => f.startsWith('dist/protocols/saml/schemas/') && f.endsWith('.xsd')), 'ships the SAML schemas');
      assert.deepEqual(files.filter((f) => /^(keys|test|node_modules|bench|\.ci|src)\//.test(f) || f.endsWith('.ts') || f === 'config/local.json'), []);

      app = path.join(dir, 'app');
      mkdirSync(path.join(app, 'rps'), { recursive: true });
      writeFileSync(path.join(app, 'package.json'), '{"private":true}');
      writeFileSync(path.join(app, 'accounts.json'), JSON.stringify([{
        ...ACCOUNT, temporary: false, givenName: 'Pack', familyName: 'Tester', school: { code: 'T01', name: 'Test School' }, level: 'S1', roles: ['student'],
        questions: [{ question: 'What is your favourite colour?', answer: 'blue' }, { question: 'What was the name of your first pet?', answer: 'rex' }, { question: 'In which city were you born?', answer: 'ipoh' }],
      }]));
      const started = Date.now();
      execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, info!.filename)], { cwd: app, stdio: 'pipe' });
      process.stdout.write(`      install ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });

    // The project's Node (the `node` package, which runs this test) and the machine's own
    // (the first `node` on PATH outside node_modules: Node 20 on CI): the README promises both.
    for (const [which, binary] of nodes()) {
      it(`the installed bin serves a sign-in on ${which} (${nodeVersion(binary)})`, async function () {
        assert.ok(app, 'installed by the test above');
        const port = await freePort();
        let output = '';
        const begun = Date.now();
        child = spawn(binary, [path.join(app, 'node_modules/school-idp/dist/bin.js'), '--port', String(port), '--seed', 'accounts.json', '--rp-dir', './rps', '--no-sims', '--no-demo-seed', '--host', '127.0.0.1'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IDP_KEYS_DIR: '', IDP_DATA_DIR: '', DATABASE_URL: '', REDIS_URL: '' } });
        child.stdout!.on('data', (d) => (output += d));
        child.stderr!.on('data', (d) => (output += d));
        const url = `http://127.0.0.1:${port}`;
        try {
          for (;;) {
            if (child.exitCode !== null || child.signalCode !== null) assert.fail(`exited ${child.exitCode ?? child.signalCode}:\n${output}`);
            if (Date.now() - begun > 60_000) assert.fail(`not ready within 60 s:\n${output}`);
            const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
            if (ready) break;
            await sleep(200);
          }
          process.stdout.write(`      start on ${nodeVersion(binary)}: ${((Date.now() - begun) / 1000).toFixed(1)} s\n`);
          assert.match(output, /seed file loaded/);
          const b = new Browser(url);
          const home = await b.signIn((await b.open('/portal')).res, ACCOUNT.loginId, ACCOUNT.password);
          assert.match(home.res.text, /Pack Tester/);
          const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as { issuer: string };
          assert.ok(discovery.issuer.startsWith(`http://localhost:${port}`), discovery.issuer);
          // Keys live in the folder it runs from (no --keys-dir), not inside the installed package.
          assert.ok(readdirSync(path.join(app, 'keys')).some((f) => f.endsWith('.json') || f.endsWith('.pem')), 'keys in ./keys');
          assert.equal(existsSync(path.join(app, 'node_modules/school-idp/keys')), false);
          // So does the embedded database (no --data-dir): ./data, which the next run (the other Node) opens again.
          assert.ok(existsSync(path.join(app, 'data', 'PG_VERSION')), 'the embedded database in ./data');
          assert.equal(existsSync(path.join(app, 'node_modules/school-idp/data')), false);
        } finally {
          child.kill('SIGTERM');
          await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(null) : child!.once('exit', resolve)));
          child = undefined;
        }
      });
    }

    it('npx --yes <tarball> (as the README writes it) runs without a question, with no terminal', function () {
      assert.ok(app, 'packed by the test above');
      const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      // `./` as in the README: npx takes an absolute path for a command to run, not a package.
      const r = spawnSync(npx, ['--yes', '--prefer-offline', `./${tarball}`, '--help'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' }, timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: school-idp \[flags\]/);
    });
  });
});

/** Each distinct Node to run the package on: the project's, and the machine's when it differs. */
function nodes(): Array<[string, string]> {
  const list: Array<[string, string]> = [["the project's Node", process.execPath]];
  const machine = machineNode();
  if (machine && nodeVersion(machine) !== process.version) list.push(["the machine's Node", machine]);
  else if (process.env.CI) throw new Error(`CI must run the package on the machine's Node too, and found none other than ${process.version}`);
  return list;
}

function machineNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir || dir.includes(`${path.sep}node_modules${path.sep}`) || dir.endsWith(`${path.sep}node_modules`)) continue;
    const candidate = path.join(dir, process.platform === 'win32' ? 'node.exe' : 'node');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function nodeVersion(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}
