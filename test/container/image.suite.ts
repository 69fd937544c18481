// The container image, run as operators and CI pipelines run it (README "Container image").
// Not part of `npm test` (its name does not match .mocharc's spec, and it needs podman and an
// image built from the Containerfile): test/container/image.test.sh builds the base and the
// image, then runs this with IDP_IMAGE naming it.
//
// With the production shape (PostgreSQL, Redis, IDP_WORKERS=2, keys in the volume): a full
// authorization-code flow with openid-client, the process not root, /readyz driving the
// health status (Redis stopped: unhealthy; back: healthy), SIGTERM stopping it cleanly and
// quickly. Then the testers' one-container form (--seed, --rp-dir, the embedded database in
// the data volume), what the image holds and does not, and its size.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { newSchema, TEST_DATABASE_URL } from '../support/database.ts';
import { freePort, OwnedRedis } from '../support/redis.ts';
import { authRequest, redeem, signInThrough, WEB } from '../support/rp.ts';

const IMAGE = process.env.IDP_IMAGE || 'localhost/school-idp:test';
const GRACE_SECONDS = 10;
const ACCOUNT = { loginId: 'box_tester@students.edu.sg', password: 'Container-Heron-24' };
const SEED = [{
  ...ACCOUNT, temporary: false, givenName: 'Box', familyName: 'Tester', displayName: 'Box Tester',
  school: { code: 'T01', name: 'Test School' }, level: 'S1', roles: ['student'],
  questions: [{ question: 'What is your favourite colour?', answer: 'blue' }, { question: 'What is your favourite food?', answer: 'laksa' }, { question: 'What is your favourite animal?', answer: 'otter' }],
}];

interface Run { status: number | null; stdout: string; stderr: string }

/** podman with its output captured (podman prints systemd-timer noise on stderr here: no systemd). */
function podman(...args: string[]): Run {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`podman ${args[0]}: ${r.error.message} (install podman: test/container/image.test.sh does)`);
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function mustPodman(...args: string[]): string {
  const r = podman(...args);
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The files a tester mounts: a seed file and a folder of relying-party files (the test client). */
function testerFiles(): { dir: string; mounts: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-container-'));
  mkdirSync(path.join(dir, 'rps'));
  copyFileSync(path.join(projectRoot, 'test/fixtures/relying-parties/web.json'), path.join(dir, 'rps/web.json'));
  writeFileSync(path.join(dir, 'accounts.json'), JSON.stringify(SEED));
  // The container's user (uid 10001) reads them.
  for (const p of [dir, path.join(dir, 'rps')]) chmodSync(p, 0o755);
  for (const p of ['accounts.json', 'rps/web.json']) chmodSync(path.join(dir, p), 0o644);
  return { dir, mounts: ['-v', `${dir}/accounts.json:/seed/accounts.json:ro`, '-v', `${dir}/rps:/rps:ro`] };
}

/** GET /readyz on a connection of its own: with IDP_WORKERS, each new connection goes to the next worker. */
function readyOnce(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    request(`${url}/readyz`, { agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false)).on('timeout', function (this: ReturnType<typeof request>) {
      this.destroy();
    }).end();
  });
}

/**
 * Ready: /readyz 200 on several connections in a row. With workers, each one answers for
 * itself, and one may be ready while another still starts (its pages are SSPR 5019 meanwhile).
 */
async function untilReady(name: string, url: string, seconds = 120): Promise<number> {
  const begun = Date.now();
  let inARow = 0;
  for (;;) {
    const state = podman('inspect', '--format', '{{.State.Status}}', name).stdout;
    if (state !== 'running') assert.fail(`container ${state}:\n${logsOf(name).slice(-3000)}`);
    inARow = (await readyOnce(url)) ? inARow + 1 : 0;
    if (inARow === 6) return (Date.now() - begun) / 1000;
    if (Date.now() - begun > seconds * 1000) assert.fail(`not ready within ${seconds} s:\n${logsOf(name).slice(-3000)}`);
    await sleep(inARow ? 20 : 250);
  }
}

function logsOf(name: string): string {
  const r = podman('logs', name);
  return `${r.stdout}\n${r.stderr}`;
}

/** `podman healthcheck run`: the image's HEALTHCHECK, now. */
function health(name: string): 'healthy' | 'unhealthy' {
  const r = podman('healthcheck', 'run', name);
  return r.status === 0 ? 'healthy' : 'unhealthy';
}

async function untilHealth(name: string, want: 'healthy' | 'unhealthy', seconds: number): Promise<number> {
  const begun = Date.now();
  while (health(name) !== want) {
    if (Date.now() - begun > seconds * 1000) assert.fail(`not ${want} within ${seconds} s:\n${logsOf(name).slice(-2000)}`);
    await sleep(500);
  }
  return (Date.now() - begun) / 1000;
}

/** A full authorization-code flow with PKCE through the IdP at `url`, as an app would; the ID token's claims. */
async function signIn(url: string): Promise<oidc.IDToken> {
  const config = await oidc.discovery(new URL(url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
  const req = await authRequest(config, WEB.redirect);
  const callback = await signInThrough(new Browser(url), req, ACCOUNT);
  const tokens = await redeem(config, req, callback);
  const claims = tokens.claims()!;
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  return claims;
}

function report(line: string): void {
  process.stdout.write(`      ${line}\n`);
}

describe(`the container image (${IMAGE})`, function () {
  this.timeout(600_000);

  before(() => {
    assert.equal(podman('image', 'exists', IMAGE).status, 0, `no image ${IMAGE}: test/container/image.test.sh builds it`);
  });

  describe('production shape: PostgreSQL, Redis, IDP_WORKERS=2', () => {
    const name = `idp-ctest-${process.pid}`;
    let redis: OwnedRedis;
    let schema: Awaited<ReturnType<typeof newSchema>>;
    let files: ReturnType<typeof testerFiles>;
    let url: string;

    before(async () => {
      // A Redis of its own (stopped below) and a schema of its own on the machine's PostgreSQL.
      redis = await OwnedRedis.start();
      schema = await newSchema();
      files = testerFiles();
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      mustPodman('run', '-d', '--name', name, '--network=host',
        '-e', `PORT=${port}`, '-e', `IDP_PUBLIC_URL=${url}`, '-e', 'IDP_WORKERS=2',
        '-e', `DATABASE_URL=${TEST_DATABASE_URL}`, '-e', `DATABASE_SCHEMA=${schema.schema}`, '-e', `REDIS_URL=${redis.url}`,
        ...files.mounts, IMAGE, '--seed', '/seed/accounts.json', '--rp-dir', '/rps');
      report(`ready in ${(await untilReady(name, url)).toFixed(1)} s`);
    });

    after(async () => {
      podman('rm', '-f', '-v', name);
      await redis?.destroy();
      await schema?.drop();
      if (files) rmSync(files.dir, { recursive: true, force: true });
    });

    it('signs a seeded student in to an OIDC client (authorization code + PKCE, openid-client)', async () => {
      const claims = await signIn(url);
      assert.equal(claims.iss, url);
      assert.equal(claims.aud, WEB.id);
      assert.ok(claims.sub);
      assert.match(logsOf(name), /seed file loaded/);
    });

    it('runs as a user other than root, node as PID 1 with its workers', () => {
      assert.equal(mustPodman('exec', name, 'id', '-u'), '10001');
      const top = mustPodman('top', name, 'user', 'pid', 'args').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      assert.ok(top.length >= 3, `a primary and two workers:\n${top.join('\n')}`);
      for (const [user] of top) assert.equal(user, 'idp');
      // With V8's memory flags (src/config/node-flags.ts), which the workers inherit once.
      assert.deepEqual(top.find(([, pid]) => pid === '1')?.slice(2), ['node', '--max-semi-space-size=8', '--heap-growing-percent=50', '/opt/school-idp/dist/bin.js', '--seed', '/seed/accounts.json', '--rp-dir', '/rps']);
      for (const [, pid, ...args] of top.filter(([, pid, ...args]) => pid !== '1' && args.includes('/opt/school-idp/dist/bin.js'))) {
        assert.equal(args.filter((a) => a.startsWith('--heap-growing-percent=')).length, 1, `worker ${pid}: ${args.join(' ')}`);
        assert.equal(args.filter((a) => a.startsWith('--max-semi-space-size=')).length, 1, `worker ${pid}: ${args.join(' ')}`);
      }
      // Keys made at first start, in the volume, the container user's and no one else's.
      const keys = mustPodman('exec', name, 'sh', '-c', 'stat -c "%U %a %n" /var/lib/school-idp/keys/*.json');
      assert.match(keys, /idp 600 \/var\/lib\/school-idp\/keys\/oidc-jwks\.json/);
      for (const line of keys.split('\n')) assert.match(line, /^idp 600 /, line);
    });

    it('its health is /readyz: healthy, unhealthy while its Redis is down, healthy again', async () => {
      assert.equal(health(name), 'healthy');
      await redis.stop();
      report(`unhealthy ${(await untilHealth(name, 'unhealthy', 30)).toFixed(1)} s after Redis stopped`);
      const answer = await fetch(`${url}/readyz`);
      assert.equal(answer.status, 503);
      await redis.resume();
      report(`healthy ${(await untilHealth(name, 'healthy', 60)).toFixed(1)} s after Redis came back`);
      assert.equal(podman('inspect', '--format', '{{.State.Health.Status}}', name).stdout, 'healthy');
      await untilReady(name, url, 30); // every worker, not only the one the check asked
      await signIn(url); // and serves sign-ins again
    });

    it(`stops cleanly on SIGTERM within the grace period (podman stop -t ${GRACE_SECONDS}), an idle keep-alive connection open`, async () => {
      // A browser's connection kept open after its request must not hold the stop back.
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        request(`${url}/healthz`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
      });
      const begun = Date.now();
      mustPodman('stop', '-t', String(GRACE_SECONDS), name);
      const seconds = (Date.now() - begun) / 1000;
      agent.destroy();
      report(`stopped in ${seconds.toFixed(1)} s`);
      const logs = logsOf(name);
      assert.equal(mustPodman('inspect', '--format', '{{.State.ExitCode}}', name), '0', logs.slice(-2000));
      assert.ok(seconds < GRACE_SECONDS - 2, `took ${seconds} s: killed at the end of the grace period?\n${logs.slice(-2000)}`);
      const stopping = logs.slice(logs.search(/"signal":"SIGTERM".*shutting down the workers/));
      assert.ok(stopping.length < logs.length, `no shutdown logged:\n${logs.slice(-2000)}`);
      assert.match(stopping, /"worker":1.*"msg":"stopped"/);
      assert.match(stopping, /"worker":2.*"msg":"stopped"/);
      assert.match(stopping, /"role":"primary".*"msg":"stopped"/);
      // Nothing went wrong while stopping (the errors of the Redis test above are before it).
      assert.doesNotMatch(stopping, /still open after|"level":(50|60)/);
    });
  });

  describe("the testers' form: one container, --seed and --rp-dir, the embedded database", () => {
    const name = `idp-ctest-tester-${process.pid}`;
    let files: ReturnType<typeof testerFiles>;
    after(() => {
      podman('rm', '-f', '-v', name);
      if (files) rmSync(files.dir, { recursive: true, force: true });
    });

    it('signs the seeded student in, with its directory in the data volume', async () => {
      files = testerFiles();
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      mustPodman('run', '-d', '--name', name, '--network=host', '-e', `PORT=${port}`, '-e', `IDP_PUBLIC_URL=${url}`,
        ...files.mounts, IMAGE, '--seed', '/seed/accounts.json', '--rp-dir', '/rps', '--no-demo-seed');
      report(`ready in ${(await untilReady(name, url)).toFixed(1)} s (a new embedded database)`);
      await signIn(url);
      assert.equal(mustPodman('exec', name, 'sh', '-c', 'test -f /var/lib/school-idp/data/PG_VERSION && stat -c %U /var/lib/school-idp/data'), 'idp');
      assert.equal(health(name), 'healthy');
      mustPodman('stop', '-t', String(GRACE_SECONDS), name);
      assert.equal(mustPodman('inspect', '--format', '{{.State.ExitCode}}', name), '0', logsOf(name).slice(-2000));
    });
  });

  it('refuses the demo accounts on the network unless told (IDP_DEMO_ON_NETWORK)', () => {
    const r = podman('run', '--rm', '--network=none', IMAGE);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /would serve the demo accounts, whose passwords are public, to the network/);
  });

  it('holds the compiled package with production dependencies only: no sources, dev dependencies, npm or compiler', () => {
    const r = podman('run', '--rm', '--network=none', '--entrypoint', 'sh', IMAGE, '-c', [
      'node --version',
      'test -f /opt/school-idp/dist/bin.js && test -f /opt/school-idp/node_modules/koa/package.json && test -f /opt/school-idp/dist/protocols/saml/schemas/saml-schema-protocol-2.0.xsd',
      'for p in typescript mocha supertest playwright-core @types/mocha node; do test ! -e /opt/school-idp/node_modules/$p || echo "dev dependency $p"; done',
      'test ! -e /opt/school-idp/src || echo sources',
      'find /opt/school-idp/dist -name "*.ts" | head -1',
      'command -v npm gcc tsc || true',
    ].join('; '));
    assert.equal(r.status, 0, r.stderr);
    const [version, ...rest] = r.stdout.split('\n');
    assert.match(version!, /^v24\./);
    assert.deepEqual(rest, []);
    assert.equal(mustPodman('image', 'inspect', '--format', '{{.Config.User}}', IMAGE), '10001:10001');
    assert.match(mustPodman('image', 'inspect', '--format', '{{json .Config.Volumes}}', IMAGE), /\/var\/lib\/school-idp\/keys.*\/var\/lib\/school-idp\/data|\/var\/lib\/school-idp\/data.*\/var\/lib\/school-idp\/keys/);
    assert.match(mustPodman('image', 'inspect', '--format', '{{json .Config.Healthcheck}}', IMAGE), /readyz/);
  });

  it('its size', () => {
    const bytes = Number(mustPodman('image', 'inspect', '--format', '{{.Size}}', IMAGE));
    const base = Number(mustPodman('image', 'inspect', '--format', '{{.Size}}', 'docker.io/library/debian:bookworm-slim'));
    report(`image ${(bytes / 1e6).toFixed(0)} MB (base ${(base / 1e6).toFixed(0)} MB, Node.js and the IdP ${((bytes - base) / 1e6).toFixed(0)} MB)`);
    // A guard against growth (what is inside is checked above): 287 MB when this was written.
    assert.ok(bytes < 400e6, `${bytes} bytes`);
  });
});
