// What every browser test shares: a real `clockwork serve` on a free port
// with a fresh data directory, Debian's Chromium through playwright-core
// (never a downloaded browser), sign-in helpers, API set-up calls with the
// admin token, screenshots into ui-tests/artifacts/, and a poll helper for
// conditions that have no DOM event to wait on.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, 'artifacts');
const BIN = process.env.CLOCKWORK_BIN || resolve(here, '..', 'target', 'debug', 'clockwork');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const ADMIN_TOKEN = 'cw-ui-test-admin-token-0123456789abcdef';
export const ADMIN_PASSWORD = 'correct horse battery staple';
const START_TIMEOUT_MS = 30_000;

/**
 * Starts `clockwork serve` on 127.0.0.1:0 in a fresh data directory, with
 * `config` (TOML text) as its clockwork.toml when given; resolves once it listens.
 */
export async function startServer({ config = null } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'clockwork-ui-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')];
  if (config != null) {
    writeFileSync(join(dataDir, 'clockwork.toml'), config);
    args.push('--config', join(dataDir, 'clockwork.toml'));
  }
  const child = spawn(BIN, args, {
    env: {
      ...process.env,
      CLOCKWORK_ADMIN_TOKEN: ADMIN_TOKEN,
      CLOCKWORK_ADMIN_PASSWORD: ADMIN_PASSWORD,
      CLOCKWORK_LOG: process.env.CLOCKWORK_LOG || 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolvePromise, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`clockwork serve did not listen within ${START_TIMEOUT_MS} ms:\n${stderr}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clockwork serve exited with ${code} before listening:\n${stderr}`));
    });
    child.on('error', reject);
  });
  return {
    url,
    dataDir,
    stderr: () => stderr,
    /** An API call as the admin token; resolves to the JSON body, throws on a non-2xx. */
    async api(method, path, body, token = ADMIN_TOKEN) {
      const response = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async stop() {
      if (child.exitCode == null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Chromium, headless, from the Debian package. */
export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/**
 * One test's world: a server, a browser page on it, and cleanup that saves
 * a screenshot (also when the test fails) and stops everything.
 */
export async function setup(t, { viewport = { width: 1280, height: 800 }, colorScheme = 'light', config = null, timezoneId = undefined, locale = 'en-US' } = {}) {
  const server = await startServer({ config });
  const browser = await launch();
  const context = await browser.newContext({ viewport, colorScheme, baseURL: server.url, timezoneId, locale, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const consoleErrors = [];
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  t.after(async () => {
    await shot(page, t.name).catch(() => {});
    await browser.close();
    await server.stop();
  });
  return { server, browser, context, page, consoleErrors };
}

/** Saves a full-page screenshot as ui-tests/artifacts/<name>.png and returns its path. */
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '-').replace(/^-|-$/g, '')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the form with a username and password. */
export async function signIn(page, username = 'admin', password = ADMIN_PASSWORD) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Signs in through the form with an API token. */
export async function signInWithToken(page, token) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Use an API token instead' }).click();
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function eventually(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
