// XML Schema validation of SAML messages against the OASIS schemas shipped in schemas/, by
// libxml2 compiled to WebAssembly (libxml2-wasm). The schemas are parsed and compiled once;
// a message is then parsed and checked against the compiled schema in well under a
// millisecond for a sign-in request (bench:saml-sso), so it runs in the request itself: a
// worker thread would cost more in messages between threads, and ~30 MB of memory for its
// own JavaScript engine, than the check does (bench/README.md). Installs without downloads
// or native builds. Nothing is read from the file system or the network while a message is
// checked: the only documents libxml2 can open are the shipped schemas, served from
// memory, and a message is parsed without entity substitution or DTD loading. A message
// that cannot be checked is refused, never let through.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParseOption, XmlBufferInputProvider, XmlDocument, XmlParseError, XmlValidateError, XsdValidator, xmlRegisterInputProvider, type ErrorDetail } from 'libxml2-wasm';

export type SchemaName = 'saml-schema-protocol-2.0.xsd' | 'saml-schema-metadata-2.0.xsd';

export interface SchemaResult {
  valid: boolean;
  /** libxml2's messages (the first five), with their line numbers. */
  errors: string[];
}

const SCHEMA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schemas');
/** Where libxml2 believes the schemas are: their imports resolve against it, in memory. */
const BASE = 'school-idp-schemas/';

let schemaFiles: Record<string, Buffer> | undefined;
/** The shipped schemas, made readable to libxml2 (once per process: the provider is global). */
function files(): Record<string, Buffer> {
  if (!schemaFiles) {
    schemaFiles = Object.fromEntries(readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.xsd')).map((f) => [BASE + f, readFileSync(path.join(SCHEMA_DIR, f))]));
    xmlRegisterInputProvider(new XmlBufferInputProvider(schemaFiles));
  }
  return schemaFiles;
}

const describe = (details: ErrorDetail[]) => details.slice(0, 5).map((d) => `${d.line ? `line ${d.line}: ` : ''}${d.message.trim()}`);

export class SchemaValidator {
  readonly #compiled = new Map<SchemaName, XsdValidator>();

  #validator(schema: SchemaName): XsdValidator {
    let v = this.#compiled.get(schema);
    if (!v) {
      const source = files()[BASE + schema];
      if (!source) throw new Error(`unknown schema ${schema}`);
      const doc = XmlDocument.fromBuffer(source, { url: BASE + schema, option: ParseOption.XML_PARSE_NONET });
      try {
        v = XsdValidator.fromDoc(doc);
      } finally {
        doc.dispose();
      }
      this.#compiled.set(schema, v);
    }
    return v;
  }

  /** Valid, or invalid with libxml2's reasons; rejects only when the check itself could not run. */
  async validate(xml: string, schema: SchemaName = 'saml-schema-protocol-2.0.xsd'): Promise<SchemaResult> {
    const validator = this.#validator(schema);
    let doc: XmlDocument | undefined;
    try {
      doc = XmlDocument.fromString(xml, { option: ParseOption.XML_PARSE_NONET });
      validator.validate(doc);
      return { valid: true, errors: [] };
    } catch (err) {
      // Not well-formed is as invalid as not matching the schema.
      if (err instanceof XmlValidateError || err instanceof XmlParseError) return { valid: false, errors: describe(err.details) };
      throw new Error(`schema validation failed to run: ${String((err as Error).message ?? err).slice(0, 200)}`);
    } finally {
      doc?.dispose();
    }
  }

  /** Compiles the schemas now rather than on the first message. */
  async warm(): Promise<void> {
    this.#validator('saml-schema-protocol-2.0.xsd');
    this.#validator('saml-schema-metadata-2.0.xsd');
  }

  async close(): Promise<void> {
    for (const v of this.#compiled.values()) v.dispose();
    this.#compiled.clear();
  }
}
