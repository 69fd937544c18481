// Worker thread of schema-validator.ts: libxml2 compiled to WebAssembly (libxml2-wasm).
// The OASIS schemas are parsed and compiled once when the worker starts; each message is
// then parsed and validated against the compiled schema (well under a millisecond for a
// sign-in request), in one WebAssembly memory that lives as long as the worker.
// Nothing is read from the file system or the network while a message is checked: the
// only documents libxml2 can open are the shipped schemas, served from memory.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort } from 'node:worker_threads';
import { ParseOption, XmlBufferInputProvider, XmlDocument, XmlParseError, XmlValidateError, XsdValidator, xmlRegisterInputProvider, type ErrorDetail } from 'libxml2-wasm';

interface Request {
  id: number;
  xml: string;
  schema: string;
}

export interface WorkerAnswer {
  id: number;
  /** true valid, false invalid (with libxml2's messages); undefined: it could not be decided */
  valid?: boolean;
  errors: string[];
}

const schemaDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schemas');
const BASE = 'school-idp-schemas/';
const files = Object.fromEntries(readdirSync(schemaDir).filter((f) => f.endsWith('.xsd')).map((f) => [BASE + f, readFileSync(path.join(schemaDir, f))]));
xmlRegisterInputProvider(new XmlBufferInputProvider(files));

const validators = new Map<string, XsdValidator>();
function validatorFor(schema: string): XsdValidator {
  let v = validators.get(schema);
  if (!v) {
    const source = files[BASE + schema];
    if (!source) throw new Error(`unknown schema ${schema}`);
    const doc = XmlDocument.fromBuffer(source, { url: BASE + schema, option: ParseOption.XML_PARSE_NONET });
    v = XsdValidator.fromDoc(doc);
    doc.dispose();
    validators.set(schema, v);
  }
  return v;
}
// Compiled now, not on the first message.
validatorFor('saml-schema-protocol-2.0.xsd');
validatorFor('saml-schema-metadata-2.0.xsd');

const describe = (details: ErrorDetail[]) => details.slice(0, 5).map((d) => `${d.line ? `line ${d.line}: ` : ''}${d.message.trim()}`);

parentPort!.on('message', (message: Request) => {
  if (!message || typeof message.id !== 'number') return;
  const answer = (a: Omit<WorkerAnswer, 'id'>) => parentPort!.postMessage({ id: message.id, ...a } satisfies WorkerAnswer);
  let doc: XmlDocument | undefined;
  try {
    const validator = validatorFor(message.schema);
    // No entity substitution, no DTD loading, no network: only the message itself.
    doc = XmlDocument.fromString(message.xml, { option: ParseOption.XML_PARSE_NONET });
    validator.validate(doc);
    answer({ valid: true, errors: [] });
  } catch (err) {
    // Not well-formed is as invalid as not matching the schema.
    if (err instanceof XmlValidateError || err instanceof XmlParseError) answer({ valid: false, errors: describe(err.details) });
    else answer({ errors: [String((err as Error).message ?? err).slice(0, 200)] });
  } finally {
    doc?.dispose();
  }
});
