/**
 * The default catalogue: the fields of Ashby's records that name, reach or describe a candidate, and what
 * the default policy does with each. Paths follow the records as the list endpoints return them (and as
 * webhook payloads carry them): `a.b` is a nested key, `a[]` every element of an array, `a.*` every key
 * of an object.
 */
import type { PiiAction, PiiKind } from './types.js';

/** One field of the catalogue. */
export interface CatalogueEntry {
  /**
   * The stream (table) the field belongs to.
   * @example 'candidates'
   */
  stream: string;
  /**
   * Where the field is in the record.
   * @example 'emailAddresses[].value'
   */
  path: string;
  /** What the default policy does with it. */
  action: Exclude<PiiAction, 'keep'>;
  /** What the value is: decides how it is masked and normalised before hashing. */
  kind: PiiKind;
}

const entry = (
  stream: string,
  path: string,
  action: CatalogueEntry['action'],
  kind: PiiKind,
): CatalogueEntry => ({ stream, path, action, kind });

/** A candidate summary (`candidate` of an application): the person's name and how to reach them. */
const summary = (stream: string, prefix: string): CatalogueEntry[] => [
  entry(stream, `${prefix}name`, 'hash', 'name'),
  entry(stream, `${prefix}primaryEmailAddress.value`, 'hash', 'email'),
  entry(stream, `${prefix}primaryPhoneNumber.value`, 'hash', 'phone'),
];

/** A candidate record (the `candidates` stream, and the candidates of webhook payloads). */
const candidate = (stream: string): CatalogueEntry[] => [
  ...summary(stream, ''),
  entry(stream, 'emailAddresses[].value', 'hash', 'email'),
  entry(stream, 'phoneNumbers[].value', 'hash', 'phone'),
  entry(stream, 'socialLinks[].url', 'hash', 'url'),
  // The 2024 spec calls the candidate's location `primaryLocation`, the 2026 spec `location`.
  entry(stream, 'primaryLocation.locationSummary', 'mask', 'location'),
  entry(stream, 'primaryLocation.locationComponents', 'drop', 'location'),
  entry(stream, 'location.locationSummary', 'mask', 'location'),
  entry(stream, 'location.locationComponents', 'drop', 'location'),
  entry(stream, 'resumeFileHandle', 'drop', 'file'),
  entry(stream, 'fileHandles', 'drop', 'file'),
];

/**
 * The shipped catalogue. Staff (users, hiring teams, interviewers, note authors) are not in it: they are
 * the organisation's own people, named by their work address; a policy file can add them.
 */
export const DEFAULT_CATALOGUE: readonly CatalogueEntry[] = [
  ...candidate('candidates'),
  ...summary('applications', 'candidate.'),
  entry('applications', 'applicationFormSubmissions', 'drop', 'text'),
  entry('candidate_notes', 'content', 'drop', 'text'),
  entry('candidate_client_info', 'ipAddress', 'mask', 'ip'),
  entry('application_feedback', 'submittedValues.*', 'mask', 'text'),
  entry('survey_submissions', 'submittedValues.*', 'mask', 'text'),
  entry('offers', 'latestVersion.salary', 'drop', 'money'),
  entry('offers', 'latestVersion.fileHandles', 'drop', 'file'),
  entry('offers', 'versions[].salary', 'drop', 'money'),
  entry('offers', 'versions[].fileHandles', 'drop', 'file'),
];

/**
 * The personal fields of push records (the input of write operations such as `candidate.create`), by
 * field name: their values are masked wherever a message quotes them (quarantine reasons, run logs).
 */
export const PUSH_PERSONAL_FIELDS: Readonly<Record<string, PiiKind>> = {
  name: 'name',
  firstName: 'name',
  lastName: 'name',
  email: 'email',
  candidateEmail: 'email',
  alternateEmail: 'email',
  alternateEmailAddresses: 'email',
  phoneNumber: 'phone',
  linkedInUrl: 'url',
  githubUrl: 'url',
  website: 'url',
  websiteUrl: 'url',
  socialLinks: 'url',
  note: 'text',
  location: 'location',
};
