/**
 * Hostile-but-valid text: the sandbox's data must exercise every sink with the strings real recruiting
 * data contains (scripts of every direction, combining marks, emoji, quotes, backslashes, newlines, SQL
 * lookalikes, very long values).
 */

export const FIRST_NAMES = [
  'Ada',
  'José',
  'Zoe\u0308',
  'Björn',
  'Łukasz',
  'François',
  'Nguyễn',
  '李',
  'さくら',
  'محمد',
  'דוד',
  'Siobhán',
  "D'Angelo",
  'Jean-Luc',
  'Priya',
  'Oluwaseun',
  'Ｆｕｌｌ',
  'Sam 🚀',
  'Chloé',
  'Kwame',
  'Ana María',
  'Dmitrí',
  'Fatma',
  'Mateo',
  'Hana',
  'Emily',
  'Liam',
  'Noah',
  'Olivia',
  'Aarav',
];

export const LAST_NAMES = [
  'Smith',
  "O'Connor",
  'Müller',
  '王',
  '田中',
  'عبد الله',
  'כהן',
  'García Márquez',
  'van der Berg',
  '"The Rock" Johnson',
  'Back\\slash',
  "Robert'); DROP TABLE candidates;--",
  'Ngata-Whānau',
  'Øster',
  'Kowalski',
  'Nakamura',
  'Okafor',
  'Singh',
  'Ivanov',
  'Lee',
  'Brown',
  'Rossi',
  'Dubois',
  'Silva',
  'Novák',
];

export const COMPANIES = [
  'Acme, Inc.',
  'Initech',
  'Globex "GmbH"',
  'Umbrella & Co',
  'Ünïcødé Labs 🚀',
  '株式会社テスト',
  'شركة',
];
export const SCHOOLS = [
  'MIT',
  'ETH Zürich',
  'Université de Montréal',
  '清华大学',
  'Universidad de los Andes',
];
export const POSITIONS = [
  'Software Engineer',
  'Staff Engineer\nPlatform',
  'Head of "People"',
  'Data Scientist',
  'Designer 🎨',
  'Recruiter',
];
export const JOB_TITLES = [
  'Senior Software Engineer',
  'Product Designer',
  'Account Executive — EMEA',
  'Data Engineer (Remote)',
  'Ingénieur·e logiciel',
  'ソフトウェアエンジニア',
  'Customer Success "Hero"',
  'Site Reliability Engineer / On-call',
  'Recruiting Coordinator',
  'VP, Finance & Ops',
];
export const CITIES: ReadonlyArray<[string, string, string]> = [
  ['San Francisco', 'California', 'United States'],
  ['New York', 'New York', 'United States'],
  ['London', 'England', 'United Kingdom'],
  ['Berlin', 'Berlin', 'Germany'],
  ['São Paulo', 'SP', 'Brazil'],
  ['東京', 'Tokyo', 'Japan'],
  ['Tel Aviv', 'Tel Aviv District', 'Israel'],
  ['Zürich', 'ZH', 'Switzerland'],
];
export const TIMEZONES = [
  'America/Los_Angeles',
  'America/New_York',
  'Europe/London',
  'Europe/Berlin',
  'Asia/Tokyo',
];

/** A 10,000-character value (resumes pasted into notes, long job descriptions). */
export function longText(tag: string): string {
  const line = `Lorem ipsum — ${tag} — “quotes”, 'apostrophes', back\\slashes, ünïcødé, 中文, עברית, 🚀.\n`;
  return line.repeat(Math.ceil(10_000 / line.length)).slice(0, 10_000);
}

/** ASCII-only slug for email local parts. */
export function slug(text: string): string {
  const s = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '.')
    .replace(/^\.+|\.+$/g, '')
    .toLowerCase();
  return s.length > 0 ? s.slice(0, 20) : 'x';
}
