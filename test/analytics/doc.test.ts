import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { renderAnalyticsDoc } from '../../src/analytics/doc.js';

const FILE = path.resolve(import.meta.dirname, '../../docs/analytics.md');

it('docs/analytics.md documents every view with its columns and SQL as the code defines them', () => {
  // UPDATE_DOCS=1 rewrites the page from the definitions.
  if (process.env.UPDATE_DOCS === '1') fs.writeFileSync(FILE, renderAnalyticsDoc());
  expect(fs.readFileSync(FILE, 'utf8')).toBe(renderAnalyticsDoc());
});
