// Load for failover tests, and the ledger that compares what users and operators were
// told with what the store holds afterwards.
//   - students change their passwords in the portal's MIMS SSPR app, over HTTP, as a
//     browser does: success = "The password has been changed successfully";
//   - an operator runs `cli reset-password` in a loop: success = exit 0 and the printed
//     temporary password;
//   - an operator runs `cli import --commit` of small cohorts: success = exit 0 (or exit 1
//     "interrupted" for the rows whose passwords it wrote out).
// After recovery every account must hold the last password it was told it has, or, only
// when a later attempt failed with SSPR 5019 / a non-zero exit, the outcome of that
// attempt. An older acknowledged password, or a missing imported account, is a lost write.
import { runCli } from './cli.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSeed, parseSeed } from '../../src/domain/accounts/seed.ts';
import { Browser } from './browser.ts';
import type { TestIdp } from './idp.ts';

interface Ledger {
  loginId: string;
  /** Passwords the user or operator was told are now in force, in order. */
  acked: string[];
  /** An attempt failed (SSPR 5019 or a CLI error) after the last acknowledgement. */
  unsettled: boolean;
}

export interface LoadResult {
  ackedChanges: number;
  failedChanges: number;
  ackedResets: number;
  failedResets: number;
  ackedImports: number;
  failedImports: number;
  /** Acknowledgements that came after the fault began. */
  ackedAfterFault: number;
}

export interface Verdict {
  lost: string[];
  checked: number;
}

function cli(env: NodeJS.ProcessEnv, ...args: string[]) {
  return runCli({ ...process.env, ...env }, ...args);
}

export class DurabilityLoad {
  readonly #t: TestIdp;
  readonly #cliEnv: NodeJS.ProcessEnv;
  readonly #tag: string;
  readonly students: Ledger[] = [];
  readonly resetTarget: Ledger;
  /** Imported login ID -> its temporary password, for every import row acknowledged. */
  readonly imported = new Map<string, string>();
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'idp-durability-'));
  #faultAt: number | null = null;
  #stop = false;
  readonly result: LoadResult = { ackedChanges: 0, failedChanges: 0, ackedResets: 0, failedResets: 0, ackedImports: 0, failedImports: 0, ackedAfterFault: 0 };
  /** When each password change was acknowledged. */
  readonly #ackTimes: number[] = [];
  /** Lines the CLI wrote to stderr on failure (must each be one line, no stack). */
  readonly cliErrors: string[] = [];

  constructor(t: TestIdp, cliEnv: NodeJS.ProcessEnv, tag: string, students = 4) {
    this.#t = t;
    this.#cliEnv = cliEnv;
    this.#tag = tag;
    for (let i = 0; i < students; i++) this.students.push({ loginId: `durable_${tag}_${i}@students.edu.sg`, acked: [`Start-Kite-${i}0a`], unsettled: false });
    this.resetTarget = { loginId: `durable_${tag}_reset@students.edu.sg`, acked: ['Start-Kite-r0a'], unsettled: false };
  }

  async seed(): Promise<void> {
    const accounts = parseSeed([...this.students, this.resetTarget].map((l, i) => ({
      loginId: l.loginId, password: l.acked[0], temporary: false, givenName: 'Durable', familyName: `Student${i}`,
      school: { code: 'DEMO01', name: 'Rivervale Demo School' }, level: 'P5', roles: ['student'],
      questions: [{ question: 'What is your favourite food?', answer: 'Laksa' }, { question: 'What is the name of your first pet?', answer: 'Shark' }, { question: 'What is your favourite colour?', answer: 'Blue' }],
    })), 'durability load');
    const { idp } = this.#t;
    await loadSeed(accounts, { directory: idp.directory, hasher: idp.hasher, audit: idp.audit, now: Date.now() });
  }

  faultBegins(): void {
    this.#faultAt = Date.now();
  }

  #acked(): void {
    if (this.#faultAt === null) return;
    this.result.ackedAfterFault++;
  }

  /** Runs every generator until stop(); resolves when they have all finished. */
  run(): { stop(): Promise<void> } {
    const running = [
      ...this.students.map((l, i) => this.#student(l, i)),
      this.#operator(),
    ];
    return {
      stop: async () => {
        this.#stop = true;
        await Promise.all(running);
      },
    };
  }

  async #student(ledger: Ledger, worker: number): Promise<void> {
    let n = 1;
    while (!this.#stop) {
      const next = `Kite-Lamp-${worker}-${n++}x`;
      let committing = false;
      try {
        const b = new Browser(this.#t.url);
        // The last acknowledged password, then (after a failed commit) the attempts whose outcome is unknown.
        const candidates = [ledger.acked.at(-1)!, ...(ledger.unsettled ? (this.#attempts.get(worker) ?? []).slice(-3).reverse() : [])];
        let portal;
        for (const password of candidates) {
          const page = await b.signIn((await b.open('/portal')).res, ledger.loginId, password);
          if (/Sign out/.test(page.res.text)) {
            portal = page;
            // A password that was not acknowledged but works: it did land.
            if (password !== ledger.acked.at(-1)) {
              ledger.acked.push(password);
              ledger.unsettled = false;
            }
            break;
          }
        }
        if (!portal) {
          await sleep(100);
          continue;
        }
        const sspr = await b.open('/portal/sspr');
        const reauth = await b.follow(await b.submit(sspr.res, '/portal/sspr/password', {}));
        const change = await b.follow(await b.submit(reauth.res, '/reauth', { password: ledger.acked.at(-1)! }));
        const wait = await b.follow(await b.submit(change.res, '/password', { newPassword: next, confirmPassword: next }));
        committing = true;
        const done = await b.follow(await b.submit(wait.res, '/password/commit', {}));
        if (/The password has been changed successfully/.test(done.res.text)) {
          this.#ackTimes.push(Date.now());
          ledger.acked.push(next);
          ledger.unsettled = false;
          this.result.ackedChanges++;
          this.#acked();
        } else {
          throw new Error(done.res.text.match(/SSPR \d+/)?.[0] ?? `status ${done.res.status}`);
        }
      } catch {
        if (committing) {
          ledger.unsettled = true;
          this.#attempts.set(worker, [...(this.#attempts.get(worker) ?? []), next]);
        }
        this.result.failedChanges++;
        await sleep(50);
      }
    }
  }

  /** Per student worker: passwords whose commit failed (outcome unknown). */
  readonly #attempts = new Map<number, string[]>();

  async #operator(): Promise<void> {
    let round = 0;
    while (!this.#stop) {
      round++;
      const reset = await cli(this.#cliEnv, 'reset-password', this.resetTarget.loginId);
      const printed = /\(shown once\): (\S+)/.exec(reset.stdout)?.[1];
      if (reset.code === 0 && printed) {
        this.resetTarget.acked.push(printed);
        this.resetTarget.unsettled = false;
        this.result.ackedResets++;
        this.#acked();
      } else {
        this.resetTarget.unsettled = true;
        this.result.failedResets++;
        this.cliErrors.push(reset.stderr);
      }
      if (this.#stop) break;
      const csv = path.join(this.#dir, `cohort-${round}.csv`);
      const out = path.join(this.#dir, `passwords-${round}.csv`);
      const rows = [0, 1, 2].map((k) => `import_${this.#tag}_${round}_${k}@students.edu.sg,Imported,Pupil${round}x${k},DEMO01,Rivervale Demo School,P1,student`);
      writeFileSync(csv, `loginId,givenName,familyName,schoolCode,schoolName,level,roles\n${rows.join('\n')}\n`);
      const imp = await cli(this.#cliEnv, 'import', csv, '--commit', '--out', out);
      if (existsSync(out)) {
        for (const line of readFileSync(out, 'utf8').trim().split('\n').slice(1)) {
          const [loginId, password] = line.split(',');
          this.imported.set(loginId!, password!);
        }
      }
      if (imp.code === 0) {
        this.result.ackedImports++;
        this.#acked();
      } else {
        this.result.failedImports++;
        this.cliErrors.push(imp.stderr);
      }
    }
  }

  /** The longest stretch, from the fault on, in which no student could change a password. */
  longestGapMs(): number {
    if (this.#faultAt === null) return 0;
    let last = this.#faultAt;
    let longest = 0;
    for (const at of this.#ackTimes.filter((a) => a >= this.#faultAt!)) {
      longest = Math.max(longest, at - last);
      last = at;
    }
    return longest;
  }

  /** What the store holds now against what was acknowledged. */
  async verify(): Promise<Verdict> {
    const { directory, hasher } = this.#t.idp;
    const lost: string[] = [];
    let checked = 0;
    const holds = async (loginId: string, password: string) => {
      const account = await directory.findByLoginId(loginId);
      return !!account && (await hasher.verify(account.passwordHash, password)).ok;
    };
    for (const l of [...this.students, this.resetTarget]) {
      checked++;
      if (await holds(l.loginId, l.acked.at(-1)!)) continue;
      // Not the last acknowledged one: acceptable only if a later attempt's outcome was
      // unknown and the account holds none of the older acknowledged passwords.
      let older = false;
      for (const p of l.acked.slice(0, -1)) if (await holds(l.loginId, p)) older = true;
      if (older || !l.unsettled) {
        const account = await directory.findByLoginId(l.loginId);
        lost.push(`${l.loginId}: holds ${older ? 'an older acknowledged password' : account ? `no acknowledged password (changed at ${new Date(account.passwordChangedAt).toISOString()}, ${l.acked.length} acknowledged)` : 'nothing: the account is missing'}`);
      }
    }
    for (const [loginId, password] of this.imported) {
      checked++;
      if (!(await holds(loginId, password))) lost.push(`${loginId}: imported and acknowledged, ${(await directory.findByLoginId(loginId)) ? 'with another password' : 'missing'}`);
    }
    return { lost, checked };
  }

  close(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
