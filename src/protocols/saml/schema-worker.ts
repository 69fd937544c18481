// Worker thread of schema-validator.ts: libxml2's xmllint compiled to WebAssembly
// (xmllint-wasm). The module is compiled once when the worker starts; each message gets a
// fresh instance (xmllint is a program that runs main() once), so a validation costs a
// few milliseconds instead of a worker start and a compile (~190 ms) each time.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort } from 'node:worker_threads';

interface Request {
  id: number;
  xml: string;
  schema: string;
}

type EmscriptenFactory = (options: Record<string, unknown>) => Promise<unknown>;

const require = createRequire(import.meta.url);
const packageDir = path.dirname(require.resolve('xmllint-wasm'));
const compiled = new WebAssembly.Module(readFileSync(path.join(packageDir, 'xmllint.wasm')));
const xmllint = require(path.join(packageDir, 'xmllint-node.js')) as EmscriptenFactory;

const schemaDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schemas');
const schemas = readdirSync(schemaDir)
  .filter((f) => f.endsWith('.xsd'))
  .map((fileName) => ({ fileName, contents: readFileSync(path.join(schemaDir, fileName)) }));

const PAGE = 65536;

parentPort!.on('message', (message: Request & { 'xmllint-wasm'?: unknown }) => {
  // xmllint-node.js listens on the same port for its own tagged messages; ours are not.
  if (!message || typeof message.id !== 'number' || message['xmllint-wasm']) return;
  let stderr = '';
  let answered = false;
  const answer = (exitCode: number) => {
    if (answered) return;
    answered = true;
    parentPort!.postMessage({ id: message.id, exitCode, stderr });
  };
  xmllint({
    inputFiles: [...schemas, { fileName: 'message.xml', contents: message.xml }],
    arguments: ['--noout', '--nonet', '--schema', message.schema, 'message.xml'],
    wasmMemory: new WebAssembly.Memory({ initial: (16 * 1024 * 1024) / PAGE, maximum: (64 * 1024 * 1024) / PAGE }),
    print: () => {},
    printErr: (text: string) => {
      if (stderr.length < 4096) stderr += `${text}\n`;
    },
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
      const instance = new WebAssembly.Instance(compiled, imports);
      done(instance, compiled);
      return instance.exports;
    },
    onExit: answer,
    onAbort: (reason: unknown) => {
      stderr += `abort: ${String(reason)}`;
      answer(-1);
    },
  }).catch((err: unknown) => {
    stderr += String(err);
    answer(-2);
  });
});
