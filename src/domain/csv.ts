// Every CSV file the IdP writes (temporary passwords, the audit trail) goes through here:
// a cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a
// carriage return; OWASP "CSV injection") is written with a leading apostrophe, which
// spreadsheets show as text. A login ID or a name typed by someone else cannot become a
// formula on an administrator's machine. Library: csv-stringify (quoting, line breaks).
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell as written: formulas neutralised. */
export function neutralise(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** A CSV file with a header line. */
export function csvFile(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return stringify(rows.map((r) => r.map((v) => (typeof v === 'string' ? neutralise(v) : v))), { header: true, columns: [...columns] });
}
