// The CSV files of a OneRoster 1.2 bulk export (1EdTech OneRoster 1.2 CSV binding; 1.1's
// columns accepted where they differ): each file's columns, parsed into records that keep
// their line number. A file is UTF-8 with a header line; a line with another number of
// fields than the header is an error of that line (the rest of the file is still read).
// Columns named "metadata.*" are extensions and ignored; another unknown column is a warning.
import { parse } from 'csv-parse/sync';

/** The files this import reads, with the columns each must have and those it may have. */
export const ONEROSTER_FILES = {
  'manifest.csv': { required: ['propertyName', 'value'], optional: [] },
  'orgs.csv': { required: ['sourcedId', 'name', 'type'], optional: ['status', 'dateLastModified', 'identifier', 'parentSourcedId'] },
  'academicSessions.csv': { required: ['sourcedId', 'type', 'schoolYear'], optional: ['status', 'dateLastModified', 'title', 'startDate', 'endDate', 'parentSourcedId'] },
  'classes.csv': {
    required: ['sourcedId', 'title', 'classType', 'schoolSourcedId', 'termSourcedIds'],
    optional: ['status', 'dateLastModified', 'grades', 'courseSourcedId', 'classCode', 'location', 'subjects', 'subjectCodes', 'periods'],
  },
  'users.csv': {
    required: ['sourcedId', 'username', 'givenName', 'familyName'],
    optional: [
      'status', 'dateLastModified', 'enabledUser', 'userIds', 'middleName', 'identifier', 'email', 'sms', 'phone', 'agentSourcedIds', 'grades', 'password',
      'userMasterIdentifier', 'resourceSourcedIds', 'preferredGivenName', 'preferredMiddleName', 'preferredFamilyName', 'primaryOrgSourcedId', 'pronouns',
      // OneRoster 1.1:
      'role', 'orgSourcedIds',
    ],
  },
  'roles.csv': { required: ['userSourcedId', 'role', 'orgSourcedId'], optional: ['sourcedId', 'status', 'dateLastModified', 'roleType', 'beginDate', 'endDate', 'userProfileSourcedId'] },
  'enrollments.csv': {
    required: ['classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role'],
    optional: ['sourcedId', 'status', 'dateLastModified', 'primary', 'beginDate', 'endDate'],
  },
} as const satisfies Record<string, { required: readonly string[]; optional: readonly string[] }>;

export type OneRosterFile = keyof typeof ONEROSTER_FILES;

/** Files of the specification this import does not read (reported as not imported, not as errors). */
export const OTHER_SPEC_FILES = ['courses.csv', 'demographics.csv', 'categories.csv', 'lineItems.csv', 'results.csv', 'resources.csv', 'classResources.csv', 'courseResources.csv', 'userResources.csv', 'userProfiles.csv', 'scoreScales.csv', 'lineItemLearningObjectiveIds.csv', 'lineItemScoreScales.csv', 'resultLearningObjectiveIds.csv', 'resultScoreScales.csv', 'assessmentLineItems.csv', 'assessmentResults.csv'];

export const MAX_LINE = 10_000;

export interface LineMessage {
  /** 0: the file as a whole. */
  line: number;
  message: string;
}

export interface CsvRecord {
  line: number;
  get(column: string): string;
  has(column: string): boolean;
}

export interface ParsedFile {
  records: CsvRecord[];
  columns: string[];
  errors: LineMessage[];
  warnings: LineMessage[];
}

/** Multi-valued fields ("t1,t2" in one quoted field). */
export function list(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

/** Parses one file of the export; a file that cannot be read at all has one error, line 0. */
export function parseOneRosterCsv(name: OneRosterFile, data: Buffer): ParsedFile {
  const errors: LineMessage[] = [];
  const warnings: LineMessage[] = [];
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return { records: [], columns: [], errors: [{ line: 0, message: 'not UTF-8 text: export it as UTF-8' }], warnings };
  }
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parse(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, max_record_size: MAX_LINE, info: true }) as unknown as typeof rows;
  } catch (err) {
    const e = err as { code?: string; lines?: number };
    const near = e.lines ? ` near line ${e.lines}` : '';
    const message = e.code === 'CSV_MAX_RECORD_SIZE' ? `a line is longer than ${MAX_LINE} characters${near}` : `not valid CSV (${e.code ?? 'parse error'})${near}`;
    // The whole file is unread (line 0): none of its lines counts, as present or absent.
    return { records: [], columns: [], errors: [{ line: 0, message }], warnings };
  }
  if (rows.length === 0) return { records: [], columns: [], errors: [{ line: 1, message: 'no header line' }], warnings };
  const header = rows[0]!.record;
  const spec = ONEROSTER_FILES[name];
  const missing = spec.required.filter((c) => !header.includes(c));
  if (missing.length) return { records: [], columns: header, errors: [{ line: 1, message: `missing column(s): ${missing.join(', ')}` }], warnings };
  const known = new Set<string>([...spec.required, ...spec.optional]);
  const unknown = header.filter((h) => !known.has(h) && !h.startsWith('metadata.'));
  if (unknown.length) warnings.push({ line: 1, message: `column(s) not read: ${unknown.join(', ')}` });
  const duplicate = header.find((h, i) => header.indexOf(h) !== i);
  if (duplicate !== undefined) return { records: [], columns: header, errors: [{ line: 1, message: `column ${duplicate} twice` }], warnings };
  const index = new Map(header.map((h, i) => [h, i]));
  const records: CsvRecord[] = [];
  for (let r = 1; r < rows.length; r++) {
    const { record, info } = rows[r]!;
    if (record.length !== header.length) {
      errors.push({ line: info.lines, message: `${record.length} field(s), the header has ${header.length}` });
      continue;
    }
    records.push({
      line: info.lines,
      get: (column) => {
        const i = index.get(column);
        return i === undefined ? '' : record[i]!;
      },
      has: (column) => index.has(column),
    });
  }
  return { records, columns: header, errors, warnings };
}
