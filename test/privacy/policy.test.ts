import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultPolicy,
  loadPolicyFile,
  PiiPolicyError,
  parseOnDelete,
  parsePolicy,
  parsePolicyDocument,
  policyFingerprint,
  transformerFor,
} from '../../src/privacy/index.js';

const KEY = Buffer.alloc(32, 7);
const hmac = (text: string) => createHmac('sha256', KEY).update(text).digest('hex');

const candidate = {
  id: 'c1',
  name: '  Ada   Lovelace ',
  primaryEmailAddress: { value: 'Ada.Lovelace@Example.com', type: 'Personal', isPrimary: true },
  emailAddresses: [
    { value: 'Ada.Lovelace@Example.com', type: 'Personal', isPrimary: true },
    { value: 'ada@work.example.org', type: 'Work', isPrimary: false },
  ],
  primaryPhoneNumber: { value: '+1 (555) 013-0042', type: 'Personal', isPrimary: true },
  phoneNumbers: [{ value: '+1 555 013 0042', type: 'Personal', isPrimary: true }],
  socialLinks: [{ type: 'LinkedIn', url: 'https://www.linkedin.com/in/ada' }],
  primaryLocation: {
    id: 'l1',
    locationSummary: 'London, England, United Kingdom',
    locationComponents: [{ type: 'City', name: 'London' }],
  },
  resumeFileHandle: { id: 'f1', name: 'cv.pdf', handle: 'fh_1' },
  fileHandles: [{ id: 'f1', name: 'cv.pdf', handle: 'fh_1' }],
  company: 'Analytical Engines Ltd',
  customFields: [
    { id: 'cf1', title: 'Date of birth', value: '1815-12-10' },
    { id: 'cf2', title: 'Seniority', value: 'Senior' },
  ],
};

describe('the default policy', () => {
  const t = transformerFor(defaultPolicy(), KEY);
  if (!t) throw new Error('the default policy changes records');

  it('hashes names, addresses, numbers and links with HMAC-SHA256 of the normalised value', () => {
    const out = t.record('candidates', candidate);
    expect(out.name).toBe(hmac('ada lovelace'));
    expect(out.primaryEmailAddress).toEqual({
      value: hmac('ada.lovelace@example.com'),
      type: 'Personal',
      isPrimary: true,
    });
    expect(out.emailAddresses).toEqual([
      { value: hmac('ada.lovelace@example.com'), type: 'Personal', isPrimary: true },
      { value: hmac('ada@work.example.org'), type: 'Work', isPrimary: false },
    ]);
    // Written two ways, the number hashes the same.
    expect((out.primaryPhoneNumber as { value: string }).value).toBe(hmac('+15550130042'));
    expect(out.phoneNumbers).toEqual([{ value: hmac('+15550130042'), type: 'Personal', isPrimary: true }]);
    expect(out.socialLinks).toEqual([{ type: 'LinkedIn', url: hmac('https://www.linkedin.com/in/ada') }]);
  });

  it('keeps the country of the location, drops its components and the file handles', () => {
    const out = t.record('candidates', candidate);
    expect(out.primaryLocation).toEqual({ id: 'l1', locationSummary: 'United Kingdom' });
    expect(out).not.toHaveProperty('resumeFileHandle');
    expect(out).not.toHaveProperty('fileHandles');
    expect(out.company).toBe('Analytical Engines Ltd');
    expect(out.customFields).toEqual(candidate.customFields);
  });

  it('hashes the candidate of an application like the candidate itself, so joins match', () => {
    const app = {
      id: 'a1',
      candidate: {
        id: 'c1',
        name: 'Ada Lovelace',
        primaryEmailAddress: { value: 'ada.lovelace@example.com', type: 'Personal', isPrimary: true },
      },
    };
    const out = t.record('applications', app) as { candidate: { primaryEmailAddress: { value: string } } };
    const c = t.record('candidates', candidate) as { primaryEmailAddress: { value: string } };
    expect(out.candidate.primaryEmailAddress.value).toBe(c.primaryEmailAddress.value);
  });

  it('masks feedback texts but keeps the scores; drops salaries', () => {
    const fb = t.record('application_feedback', {
      id: 'f',
      submittedValues: { overall: { score: 3 }, notes: 'Strong hire, lives in Leeds', flag: true },
    });
    expect(fb.submittedValues).toEqual({ overall: { score: 3 }, notes: '[removed]', flag: true });
    const offer = t.record('offers', {
      id: 'o',
      latestVersion: { id: 'v', salary: { currencyCode: 'EUR', value: 90000 }, startDate: '2026-01-01' },
      versions: [{ id: 'v', salary: { currencyCode: 'EUR', value: 90000 } }],
    });
    expect(offer).toEqual({
      id: 'o',
      latestVersion: { id: 'v', startDate: '2026-01-01' },
      versions: [{ id: 'v' }],
    });
  });

  it('is idempotent: a transformed record transforms to itself', () => {
    const once = t.record('candidates', candidate);
    expect(t.record('candidates', once)).toEqual(once);
  });

  it('leaves the input record as it was', () => {
    const copy = structuredClone(candidate);
    t.record('candidates', candidate);
    expect(candidate).toEqual(copy);
  });
});

describe('policy files', () => {
  it('override the catalogue, mask by kind and mark custom fields personal by title or id', () => {
    const policy = parsePolicy(
      [
        'extends: default',
        'streams:',
        '  candidates:',
        '    name: mask',
        '    primaryEmailAddress.value: mask',
        '    primaryPhoneNumber.value: { action: mask, kind: phone }',
        '    emailAddresses[].value: keep',
        'customFields:',
        '  - title: "  date of BIRTH "',
        '    action: drop',
        '  - id: cf2',
        '    action: hash',
      ].join('\n'),
      'pii.yaml',
    );
    const t = transformerFor(policy, KEY);
    if (!t) throw new Error('changes records');
    const out = t.record('candidates', candidate);
    expect(out.name).toBe('A. L.');
    expect(out.primaryEmailAddress).toMatchObject({ value: '***@Example.com' });
    expect(out.primaryPhoneNumber).toMatchObject({ value: '*********42' });
    expect(out.emailAddresses).toEqual(candidate.emailAddresses);
    expect(out.customFields).toEqual([
      { id: 'cf1', title: 'Date of birth', value: null },
      { id: 'cf2', title: 'Seniority', value: hmac('Senior') },
    ]);
    // Masks are idempotent too.
    expect(t.record('candidates', out)).toEqual(out);
  });

  it('reads JSON as well', () => {
    const policy = parsePolicy(
      '{"extends": "none", "streams": {"candidates": {"company": "drop"}}}',
      'p.json',
    );
    expect(policy.streams).toEqual({ candidates: [{ path: 'company', action: 'drop', kind: 'text' }] });
  });

  it.each([
    ['streams:\n  candidates:\n    name: hsh\n', 'p.yaml:3: streams.candidates.name: unknown action "hsh"'],
    [
      'streams:\n  candidate:\n    name: hash\n',
      'p.yaml:2: streams.candidate: unknown stream (did you mean candidates?)',
    ],
    ['stream:\n  candidates: {}\n', 'p.yaml:1: stream: unknown key (did you mean streams?)'],
    ['extends: all\n', 'p.yaml:1: extends: expected default or none'],
    [
      'customFields:\n  - action: drop\n  - title: x\n    action: drop\n    kind: dna\n',
      'p.yaml:2: customFields.0: needs an id or a title',
    ],
    ['streams:\n  candidates:\n    "a..b": drop\n', 'p.yaml:3: streams.candidates.a..b: not a field path'],
    ['streams: [\n', 'p.yaml:'],
  ])('name the file, line and path of a mistake: %j', (text, message) => {
    expect(() => parsePolicy(text, 'p.yaml')).toThrow(PiiPolicyError);
    expect(() => parsePolicy(text, 'p.yaml')).toThrow(message);
  });

  it('a missing file is named', () => {
    const file = path.join(os.tmpdir(), 'no-such-pii-policy.yaml');
    expect(() => loadPolicyFile(file)).toThrow(`${file}: cannot read the PII policy (ENOENT)`);
  });

  it('fingerprints change with the rules and with the key, not with the file name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pii-'));
    const a = path.join(dir, 'a.yaml');
    fs.writeFileSync(a, 'extends: default\n');
    const same = policyFingerprint(loadPolicyFile(a), KEY);
    expect(same).toBe(policyFingerprint(defaultPolicy(), KEY));
    expect(policyFingerprint(defaultPolicy(), Buffer.alloc(32, 8))).not.toBe(same);
    expect(policyFingerprint(parsePolicy('streams: {candidates: {name: keep}}', 'x'), KEY)).not.toBe(same);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('docs/privacy.md', () => {
  it('its example policy file is one ashpipe reads, and does what the page says', () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/privacy.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    if (!yaml) throw new Error('no example');
    const t = transformerFor(parsePolicy(yaml, 'example.yaml'), KEY);
    if (!t) throw new Error('changes records');
    const out = t.record('candidates', { ...candidate, school: 'Home' });
    expect(out.name).toBe('A. L.');
    expect(out).not.toHaveProperty('company');
    expect(out.school).toBe(hmac('Home'));
    expect(out.customFields).toEqual([
      { id: 'cf1', title: 'Date of birth', value: null },
      { id: 'cf2', title: 'Seniority', value: 'Senior' },
    ]);
    expect(t.record('users', { id: 'u', email: 'x@y.org' }).email).toBe(hmac('x@y.org'));
  });
});

describe('a policy document (options.piiPolicy of a flow)', () => {
  it('is read as a file would be, its mistakes named by where and the path inside it, without a line', () => {
    const policy = parsePolicyDocument(
      { extends: 'none', streams: { candidates: { name: 'mask' } } },
      'options.piiPolicy',
    );
    expect(policy.streams.candidates).toEqual([{ path: 'name', action: 'mask', kind: 'name' }]);
    expect(() => parsePolicyDocument({ extends: 'all' }, 'options.piiPolicy')).toThrow(
      'options.piiPolicy: extends: expected default or none',
    );
    expect(() => parsePolicyDocument(['default'], 'options.piiPolicy')).toThrow(
      /^options\.piiPolicy: expected none, default or a policy document/,
    );
  });
});

describe('--on-delete / options.onDelete', () => {
  it('is soft unless purge is asked for; anything else names the option', () => {
    expect(parseOnDelete(undefined, '--on-delete')).toBe('soft');
    expect(parseOnDelete('purge', '--on-delete')).toBe('purge');
    expect(() => parseOnDelete('hard', 'options.onDelete')).toThrow(
      'options.onDelete: expected soft or purge, got "hard"',
    );
  });
});
