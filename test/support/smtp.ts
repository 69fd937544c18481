// The test harness's mail server: a real SMTP server (smtp-server) in a child process of its
// own (smtp-server-process.ts); tests read what it received. `SMTP_URL` for the IdP is `url`.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  language: string;
}

export class SmtpSink {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedMail[] = [];
  readonly #child: ChildProcess;
  #waiters: Array<() => void> = [];

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    this.url = `smtp://127.0.0.1:${port}`;
    child.on('message', (m: { type: string; mail?: ReceivedMail }) => {
      if (m.type !== 'mail' || !m.mail) return;
      this.received.push(m.mail);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Starts the server on `port` (default: a free one). */
  static async start(port = 0): Promise<SmtpSink> {
    const child = fork(path.join(projectRoot, 'test/support/smtp-server-process.ts'), [String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const listening = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`SMTP server process exited (${code})`)));
      child.on('message', (m: { type: string; port?: number }) => {
        if (m.type === 'listening') resolve(m.port!);
      });
    });
    child.removeAllListeners('exit');
    return new SmtpSink(child, listening);
  }

  /** Messages to `address` (newest last). */
  to(address: string): ReceivedMail[] {
    return this.received.filter((m) => m.to.includes(address));
  }

  /** The first message received since `since` (a count of received messages) that matches. */
  async waitFor(match: (m: ReceivedMail) => boolean, timeoutMs = 10_000, since = 0): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(since).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such mail within ${timeoutMs} ms; received: ${JSON.stringify(this.received.map((m) => ({ to: m.to, subject: m.subject })))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill();
    await exited;
  }
}

/** The 6-digit code in a message's text. */
export function codeIn(mail: ReceivedMail): string {
  const code = /^\s*(\d{6})\s*$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in mail:\n${mail.text}`);
  return code;
}
