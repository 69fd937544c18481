// OneRoster 1.2 CSV exports for tests and the benchmark: a district with schools, one
// school year, homeroom classes of 30 pupils (each with a form teacher) and a few scheduled
// classes, written as a student information system would (manifest.csv, orgs, academicSessions,
// classes, users, roles, enrollments), zipped with fflate.
import { stringify } from 'csv-stringify/sync';
import { zipSync, strToU8 } from 'fflate';

export interface RosterUser {
  sourcedId: string;
  username: string;
  email?: string;
  givenName: string;
  familyName: string;
  /** student, teacher, guardian… */
  role: string;
  /** CEDS grade of a student ("04"). */
  grades: string;
  primaryOrgSourcedId: string;
  enabledUser?: string;
  status?: string;
}

export interface RosterClass {
  sourcedId: string;
  title: string;
  classCode: string;
  classType: 'homeroom' | 'scheduled';
  schoolSourcedId: string;
  termSourcedIds: string;
  /** Its grade (students of it). */
  grade?: string;
}

export interface RosterEnrollment {
  sourcedId: string;
  classSourcedId: string;
  schoolSourcedId: string;
  userSourcedId: string;
  role: string;
}

export interface RosterData {
  year: number;
  orgs: Array<{ sourcedId: string; name: string; type: string; identifier: string; parentSourcedId: string }>;
  sessions: Array<{ sourcedId: string; title: string; type: string; startDate: string; endDate: string; schoolYear: string }>;
  classes: RosterClass[];
  users: RosterUser[];
  enrollments: RosterEnrollment[];
}

const GIVEN = ['Wei Ling', 'Arjun', 'Nur Aisyah', 'Jun Jie', 'Priya', 'Muhammad', 'Hui Min', 'Ravi', 'Siti', 'Kai Xuan', 'Zhi Hao', 'Divya'];
const FAMILY = ['Tan', 'Lim', 'Lee', 'Ng', 'Wong', 'Kumar', 'Rahman', 'Goh', 'Chua', 'Pillai', 'Ismail', 'Teo'];

/**
 * `users` accounts over `schools` schools: one teacher for each homeroom class of 30 pupils
 * (so about 1 in 31 users is a teacher), grades 01-13 in turn, one school year.
 */
export function generateRoster(users: number, options: { schools?: number; year?: number; prefix?: string } = {}): RosterData {
  const year = options.year ?? 2027;
  const schools = options.schools ?? 3;
  const p = options.prefix ?? '';
  const data: RosterData = {
    year,
    orgs: [{ sourcedId: `${p}district`, name: 'North District', type: 'district', identifier: '', parentSourcedId: '' }],
    sessions: [{ sourcedId: `${p}sy${year}`, title: `${year}`, type: 'schoolYear', startDate: `${year}-01-02`, endDate: `${year}-12-31`, schoolYear: `${year}` },
      { sourcedId: `${p}t${year}-1`, title: `Term 1 ${year}`, type: 'term', startDate: `${year}-01-02`, endDate: `${year}-05-31`, schoolYear: `${year}` }],
    classes: [],
    users: [],
    enrollments: [],
  };
  for (let s = 0; s < schools; s++) data.orgs.push({ sourcedId: `${p}school-${s}`, name: `North School ${s}`, type: 'school', identifier: `${p.toUpperCase()}NS${String(s).padStart(2, '0')}`, parentSourcedId: `${p}district` });
  const perClass = 31; // 30 pupils and their form teacher
  const classCount = Math.ceil(users / perClass);
  let made = 0;
  for (let c = 0; c < classCount && made < users; c++) {
    const school = `${p}school-${c % schools}`;
    const grade = String((Math.floor(c / schools) % 13) + 1).padStart(2, '0');
    const section = Math.floor(c / (schools * 13));
    const classId = `${p}class-${c}`;
    const code = `${Number(grade)}${String.fromCharCode(65 + (section % 26))}${section >= 26 ? Math.floor(section / 26) : ''}`;
    data.classes.push({ sourcedId: classId, title: `Class ${code}`, classCode: code, classType: 'homeroom', schoolSourcedId: school, termSourcedIds: `${p}t${year}-1`, grade });
    const teacher = `${p}tch-${c}`;
    data.users.push({ sourcedId: teacher, username: `${p}teacher${c}@schools.gov.sg`, givenName: GIVEN[c % GIVEN.length]!, familyName: FAMILY[(c * 7) % FAMILY.length]!, role: 'teacher', grades: '', primaryOrgSourcedId: school });
    data.enrollments.push({ sourcedId: `${p}enr-t${c}`, classSourcedId: classId, schoolSourcedId: school, userSourcedId: teacher, role: 'teacher' });
    made++;
    for (let k = 0; k < perClass - 1 && made < users; k++, made++) {
      const n = c * 30 + k;
      const id = `${p}stu-${n}`;
      data.users.push({ sourcedId: id, username: `${p}pupil${n}@students.edu.sg`, givenName: GIVEN[n % GIVEN.length]!, familyName: FAMILY[(n * 5) % FAMILY.length]!, role: 'student', grades: grade, primaryOrgSourcedId: school });
      data.enrollments.push({ sourcedId: `${p}enr-${n}`, classSourcedId: classId, schoolSourcedId: school, userSourcedId: id, role: 'student' });
    }
  }
  // A scheduled class (a subject's) per school: skipped by the import.
  for (let s = 0; s < schools; s++) data.classes.push({ sourcedId: `${p}maths-${s}`, title: 'Mathematics', classCode: 'MATHS', classType: 'scheduled', schoolSourcedId: `${p}school-${s}`, termSourcedIds: `${p}t${year}-1` });
  return data;
}

function csv(columns: string[], rows: Array<Record<string, string | undefined>>): Uint8Array {
  return strToU8(stringify(rows.map((r) => columns.map((c) => r[c] ?? '')), { header: true, columns }));
}

const USER_COLUMNS_12 = ['sourcedId', 'status', 'dateLastModified', 'enabledUser', 'username', 'userIds', 'givenName', 'familyName', 'middleName', 'identifier', 'email', 'sms', 'phone', 'agentSourcedIds', 'grades', 'password', 'userMasterIdentifier', 'resourceSourcedIds', 'preferredGivenName', 'preferredMiddleName', 'preferredFamilyName', 'primaryOrgSourcedId', 'pronouns'];
const USER_COLUMNS_11 = ['sourcedId', 'status', 'dateLastModified', 'enabledUser', 'orgSourcedIds', 'role', 'username', 'userIds', 'givenName', 'familyName', 'middleName', 'identifier', 'email', 'sms', 'phone', 'agents', 'grades', 'password'];

/** The export as its CSV files (name -> bytes); 1.1 puts roles in users.csv. */
export function rosterFiles(data: RosterData, options: { version?: '1.1' | '1.2'; manifest?: boolean } = {}): Record<string, Uint8Array> {
  const version = options.version ?? '1.2';
  const files: Record<string, Uint8Array> = {};
  if (options.manifest !== false) {
    files['manifest.csv'] = csv(['propertyName', 'value'], [
      { propertyName: 'manifest.version', value: '1.0' }, { propertyName: 'oneroster.version', value: version },
      ...['academicSessions', 'classes', 'enrollments', 'orgs', 'users', ...(version === '1.2' ? ['roles'] : [])].map((f) => ({ propertyName: `file.${f}`, value: 'bulk' })),
      ...['categories', 'classResources', 'courses', 'courseResources', 'demographics', 'lineItems', 'resources', 'results'].map((f) => ({ propertyName: `file.${f}`, value: 'absent' })),
      { propertyName: 'source.systemName', value: 'Test SIS' }, { propertyName: 'source.systemCode', value: 'test' },
    ]);
  }
  files['orgs.csv'] = csv(['sourcedId', 'status', 'dateLastModified', 'name', 'type', 'identifier', 'parentSourcedId'], data.orgs);
  files['academicSessions.csv'] = csv(['sourcedId', 'status', 'dateLastModified', 'title', 'type', 'startDate', 'endDate', 'parentSourcedId', 'schoolYear'], data.sessions);
  files['classes.csv'] = csv(['sourcedId', 'status', 'dateLastModified', 'title', 'grades', 'courseSourcedId', 'classCode', 'classType', 'location', 'schoolSourcedId', 'termSourcedIds', 'subjects', 'subjectCodes', 'periods'], data.classes.map((c) => ({ ...c, grades: c.grade ?? '' })));
  if (version === '1.2') {
    files['users.csv'] = csv(USER_COLUMNS_12, data.users.map((u) => ({ ...u, enabledUser: u.enabledUser ?? 'true' })));
    files['roles.csv'] = csv(['sourcedId', 'status', 'dateLastModified', 'userSourcedId', 'roleType', 'role', 'beginDate', 'endDate', 'orgSourcedId', 'userProfileSourcedId'],
      data.users.map((u) => ({ sourcedId: `role-${u.sourcedId}`, userSourcedId: u.sourcedId, roleType: 'primary', role: u.role, orgSourcedId: u.primaryOrgSourcedId })));
  } else {
    files['users.csv'] = csv(USER_COLUMNS_11, data.users.map((u) => ({ ...u, enabledUser: u.enabledUser ?? 'true', orgSourcedIds: u.primaryOrgSourcedId })));
  }
  files['enrollments.csv'] = csv(['sourcedId', 'status', 'dateLastModified', 'classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role', 'primary', 'beginDate', 'endDate'], data.enrollments.map((e) => ({ ...e, primary: 'false' })));
  return files;
}

export function rosterZip(data: RosterData, options: { version?: '1.1' | '1.2'; manifest?: boolean; extra?: Record<string, Uint8Array> } = {}): Uint8Array {
  return zipSync({ ...rosterFiles(data, options), ...options.extra }, { level: 6 });
}

/** A copy of the export, to change for a second import. */
export function copyRoster(data: RosterData): RosterData {
  return structuredClone(data);
}

/** Moves students to another school: their primary org, and their homeroom enrollment to a class of the same grade there. */
export function moveStudents(data: RosterData, sourcedIds: readonly string[], toSchool: string): void {
  const ids = new Set(sourcedIds);
  for (const u of data.users) {
    if (!ids.has(u.sourcedId)) continue;
    const target = data.classes.find((c) => c.classType === 'homeroom' && c.schoolSourcedId === toSchool && c.grade === u.grades);
    if (!target) throw new Error(`no class of grade ${u.grades} at ${toSchool}`);
    u.primaryOrgSourcedId = toSchool;
    const e = data.enrollments.find((x) => x.userSourcedId === u.sourcedId && x.role === 'student')!;
    e.classSourcedId = target.sourcedId;
    e.schoolSourcedId = toSchool;
  }
}

/** Removes users (and their enrollments) from the export. */
export function removeUsers(data: RosterData, sourcedIds: readonly string[]): void {
  const ids = new Set(sourcedIds);
  data.users = data.users.filter((u) => !ids.has(u.sourcedId));
  data.enrollments = data.enrollments.filter((e) => !ids.has(e.userSourcedId));
}

/** users.csv's line of a user (the header is line 1). */
export function userLine(data: RosterData, sourcedId: string): number {
  return data.users.findIndex((u) => u.sourcedId === sourcedId) + 2;
}
