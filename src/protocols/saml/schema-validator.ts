// XML Schema validation of SAML messages against the OASIS schemas shipped in schemas/,
// by libxml2 compiled to WebAssembly (libxml2-wasm) in one long-lived worker thread
// (schema-worker.ts), which compiles the schemas once. Installs without downloads or
// native builds. A crashed or stuck worker is replaced; a message that cannot be checked
// is refused, never let through.
import { Worker } from 'node:worker_threads';
import type { WorkerAnswer } from './schema-worker.ts';

export type SchemaName = 'saml-schema-protocol-2.0.xsd' | 'saml-schema-metadata-2.0.xsd';

export interface SchemaResult {
  valid: boolean;
  /** libxml2's messages, without file names. */
  errors: string[];
}

interface Pending {
  resolve: (r: SchemaResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SchemaValidator {
  readonly #timeoutMs: number;
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #next = 0;

  constructor(timeoutMs = 5_000) {
    this.#timeoutMs = timeoutMs;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    // .ts in the repository, .js in the installed package (compiled; see package.json prepack).
    const worker = new Worker(new URL(import.meta.url.endsWith('.ts') ? './schema-worker.ts' : './schema-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (m: WorkerAnswer) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.valid === undefined) p.reject(new Error(`schema validation failed to run: ${m.errors.join('; ')}`));
      else p.resolve({ valid: m.valid, errors: m.errors });
    });
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const [id, p] of this.#pending) {
        clearTimeout(p.timer);
        p.reject(err);
        this.#pending.delete(id);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`schema worker exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  validate(xml: string, schema: SchemaName = 'saml-schema-protocol-2.0.xsd'): Promise<SchemaResult> {
    const worker = this.#start();
    const id = ++this.#next;
    return new Promise<SchemaResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`schema validation took longer than ${this.#timeoutMs} ms`));
        // A stuck instance: start afresh for the next message.
        if (this.#worker === worker) {
          this.#worker = undefined;
          void worker.terminate();
        }
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, xml, schema });
    });
  }

  /** Starts the worker and compiles the schemas now rather than on the first message. */
  async warm(): Promise<void> {
    await this.validate('<warm/>').catch(() => undefined);
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
