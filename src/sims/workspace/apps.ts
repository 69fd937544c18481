// What the dashboard shows, by the "level" attribute of the SAML assertion, as the guides
// describe Student iCON (Google Workspace for Education):
//   Primary 1-3: no Gmail;
//   Primary 4-6: Gmail, limited to the ministry's domains;
//   Secondary and JC/MI (and staff): the full set.
// Google Chat is disabled for everyone "till further notice".

export interface WorkspaceApp {
  id: string;
  name: string;
  note?: string;
}

export const MAIL_DOMAINS_P4_P6 = ['@students.edu.sg', '@moe.gov.sg', '@moe.edu.sg', '@schools.gov.sg'];

const CORE: WorkspaceApp[] = [
  { id: 'classroom', name: 'Classroom' },
  { id: 'drive', name: 'Drive' },
  { id: 'docs', name: 'Docs' },
  { id: 'sheets', name: 'Sheets' },
  { id: 'slides', name: 'Slides' },
  { id: 'forms', name: 'Forms' },
  { id: 'calendar', name: 'Calendar' },
  { id: 'meet', name: 'Meet' },
  { id: 'sites', name: 'Sites' },
];

export type Band = 'lower-primary' | 'upper-primary' | 'secondary' | 'staff';

export function bandOf(level: string | undefined): Band {
  if (!level) return 'staff';
  const primary = /^P([1-6])$/.exec(level);
  if (primary) return Number(primary[1]) <= 3 ? 'lower-primary' : 'upper-primary';
  return 'secondary';
}

export function appsFor(level: string | undefined): WorkspaceApp[] {
  switch (bandOf(level)) {
    case 'lower-primary':
      return CORE;
    case 'upper-primary':
      return [{ id: 'gmail', name: 'Gmail', note: `Mail to and from ${MAIL_DOMAINS_P4_P6.join(', ')} only` }, ...CORE];
    default:
      return [{ id: 'gmail', name: 'Gmail' }, ...CORE, { id: 'keep', name: 'Keep' }, { id: 'currents', name: 'Currents' }, { id: 'youtube', name: 'YouTube' }];
  }
}
