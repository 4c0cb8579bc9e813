/**
 * What the console's browser suites share: where Chromium is, a console built from the current sources,
 * and the first step of every visit (the admin password set).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

/** The project's root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Debian's Chromium, or `ASHPIPE_CHROMIUM`. */
export const CHROMIUM = process.env.ASHPIPE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether a browser suite runs: Chromium is there, or `ASHPIPE_REQUIRE_BROWSER=1` makes its absence a
 * failure instead of a skip (CI sets it).
 */
export function browserSuiteRuns(suite: string): boolean {
  const have = fs.existsSync(CHROMIUM);
  if (!have) console.warn(`${suite} skipped: no Chromium at ${CHROMIUM}`);
  return have || process.env.ASHPIPE_REQUIRE_BROWSER === '1';
}

/** The built console is missing or older than one of its sources. */
function consoleIsStale(): boolean {
  const built = path.join(ROOT, 'web', 'dist', 'index.html');
  if (!fs.existsSync(built)) return true;
  const builtAt = fs.statSync(built).mtimeMs;
  const sources = [
    path.join(ROOT, 'web', 'index.html'),
    path.join(ROOT, 'web', 'vite.config.ts'),
    ...fs
      .readdirSync(path.join(ROOT, 'web', 'src'), { recursive: true, encoding: 'utf8' })
      .map((f) => path.join(ROOT, 'web', 'src', f)),
  ];
  return sources.some((f) => fs.statSync(f).mtimeMs > builtAt);
}

/** Builds the console (`web/dist`) when it is missing or stale, so a suite never tests an old build. */
export async function ensureConsoleBuilt(): Promise<void> {
  if (!consoleIsStale()) return;
  const { build } = await import('vite');
  await build({
    root: path.join(ROOT, 'web'),
    configFile: path.join(ROOT, 'web', 'vite.config.ts'),
    logLevel: 'warn',
  });
}

/** Opens a new server's console and sets its admin password: the Overview is shown after it. */
export async function setAdminPassword(page: Page, url: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('New admin password').fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}
