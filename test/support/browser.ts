/**
 * What the console's browser suites share: where Chromium is, a console built from the current sources,
 * one start-up of sandbox + server + Chromium page, and the first step of every visit (the admin
 * password set).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, type StartServerOptions, startServer } from '../../src/server/index.js';
import { Logger } from '../../src/util/logger.js';

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

/** What `startConsoleSuite` starts; `close()` stops it all, in the reverse order. */
export interface ConsoleSuite {
  sandbox: Sandbox;
  server: RunningServer;
  browser: Browser;
  page: Page;
  /** The server's home, a fresh temporary folder removed by `close()`. */
  home: string;
  /** `test-artifacts/<name>`, emptied at start: where the suite's screenshots go. */
  artifacts: string;
  close(): Promise<void>;
}

/** How `startConsoleSuite` starts a suite's sandbox, server and browser. */
export interface ConsoleSuiteOptions {
  /** The folder under `test-artifacts/` for screenshots, e.g. `alerts`. */
  artifacts: string;
  /** The sandbox's options; its port is always a free one. */
  sandbox: Omit<SandboxOptions, 'port'>;
  /** The byte the 32-byte master key repeats, e.g. 7: each suite its own key. */
  masterKeyByte: number;
  /** The browser window; default 1366 × 768. */
  viewport?: { width: number; height: number };
  /** The server's logger; default a silent one. */
  logger?: Logger;
  /** More of the server's options (alert channels, webhooks…), on top of the suite's defaults. */
  server?: Omit<StartServerOptions, 'home' | 'env' | 'port' | 'webRoot' | 'logger'>;
  /** More Chromium flags, after the suite's defaults. */
  chromiumArgs?: readonly string[];
}

/**
 * Starts what a console browser suite needs: the console built, a sandbox, a server over a fresh home
 * serving the console and reading the sandbox, and a headless Chromium page with a 15 s default timeout
 * (below the test timeout, so a missing element fails naming its locator). What started is closed again
 * if a later step fails.
 */
export async function startConsoleSuite(options: ConsoleSuiteOptions): Promise<ConsoleSuite> {
  await ensureConsoleBuilt();
  const artifacts = path.join(ROOT, 'test-artifacts', options.artifacts);
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `ashpipe-${options.artifacts}-`));
  const started: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    for (const s of started.reverse()) await s.close();
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    const sandbox = await startSandbox({ ...options.sandbox, port: 0 });
    started.push(sandbox);
    const server = await startServer({
      serviceOptions: { baseUrl: sandbox.url },
      ...options.server,
      home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, options.masterKeyByte).toString('base64') },
      port: 0,
      webRoot: path.join(ROOT, 'web', 'dist'),
      logger: options.logger ?? new Logger({ level: 'warn', sink: () => {} }),
    });
    started.push(server);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        ...(options.chromiumArgs ?? []),
      ],
    });
    started.push(browser);
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return { sandbox, server, browser, page, home, artifacts, close };
  } catch (e) {
    await close();
    throw e;
  }
}
