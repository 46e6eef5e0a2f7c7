// End-to-end tests of the web UI in Debian's Chromium against a real
// `clockwork serve` (one per test, fresh data directory). Controls are
// found by their accessible names, as a person (or a screen reader) would.
// Run with scripts/browser-tests; screenshots land in ui-tests/artifacts/.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_TOKEN, ARTIFACTS, eventually, setup, shot, signIn, signInWithToken } from './harness.js';

const job = (name, extra = {}) => ({
  name,
  schedule: { cron: '0 3 * * *', timezone: 'UTC' },
  script: "console.log('hello');\nreturn 1;\n",
  ...extra,
});

test('sign in with a password and with a token, then sign out', async (t) => {
  const { page, consoleErrors } = await setup(t);
  await page.goto('/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();

  await signIn(page);
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'clockwork_session');
  assert.ok(session, 'a session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  // The page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('clockwork_session')), false);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.reload();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'still signed out after a reload');

  await signInWithToken(page, ADMIN_TOKEN);
  await page.getByRole('link', { name: 'Settings' }).waitFor();
  assert.deepEqual(consoleErrors, []);
});

test('a viewer can read a job but cannot save or run it', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('viewer-sees-this'));
  const viewer = await server.api('POST', '/tokens', { name: 'viewer', role: 'viewer' });
  await signInWithToken(page, viewer.token);
  assert.equal(await page.getByRole('link', { name: 'Console' }).count(), 0, 'no console for viewers');
  await page.getByRole('link', { name: 'viewer-sees-this' }).click();
  assert.equal(await page.getByRole('button', { name: 'Pause' }).count(), 0, 'no pause for viewers');
  await page.getByRole('link', { name: 'View script' }).click();
  await page.getByRole('textbox', { name: 'Script', exact: true }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Run now' }).isDisabled(), true);
  assert.equal(await page.getByLabel('Name', { exact: true }).isDisabled(), true);
  // Even a hand-made request from the viewer's session is refused.
  const status = await page.evaluate(async (id) => {
    const session = await (await fetch('/api/v1/session')).json();
    const response = await fetch(`/api/v1/jobs/${id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token },
      body: JSON.stringify({ name: 'viewer-sees-this', script: 'return 2', description: 'changed by a viewer' }),
    });
    return response.status;
  }, created.id);
  assert.equal(status, 403);
  const after = await server.api('GET', `/jobs/${created.id}`);
  assert.equal(after.version, 1);
  assert.equal(after.description, '');
});

test('create a job in the editor, save, run it now and watch its log stream', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  await signIn(page);
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByLabel('Name', { exact: true }).fill('nightly-report');

  const schedule = page.getByLabel('Schedule');
  const description = page.locator('#cron-description');
  await schedule.fill('*/5 * * * *');
  await eventually('the description of */5', async () => /every 5 minutes/i.test(await description.textContent()));
  await schedule.fill('0 9 * * *');
  await eventually('the description of 0 9 * * *', async () => /09:00/.test(await description.textContent()));
  await schedule.fill('0 9 * * * nonsense');
  await eventually('an error for a bad expression', async () => (await description.getAttribute('class')).includes('error'));
  await schedule.fill('0 9 * * *');
  await page.getByLabel('Time zone').fill('Europe/Berlin');
  await eventually('five next instants in Berlin', async () => {
    const items = await page.getByRole('list', { name: 'Next runs' }).getByRole('listitem').allTextContents();
    return items.length === 5 && items.every((i) => /09:00:00\+0[12]:00$/.test(i));
  });

  await page
    .getByRole('textbox', { name: 'Script', exact: true })
    .fill("console.log('step one');\nawait new Promise((r) => setTimeout(r, 1500));\nconsole.log('step two');\nreturn { done: true };\n");
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 1.' }).waitFor();
  const saved = await server.api('GET', '/jobs/nightly-report');
  assert.equal(saved.schedule.cron, '0 9 * * *');
  assert.equal(saved.schedule.timezone, 'Europe/Berlin');

  await page.getByRole('button', { name: 'Run now' }).click();
  await page.waitForURL(/\/runs\/\d+$/);
  const logs = page.getByRole('log', { name: 'Logs' });
  await logs.getByText('step one').waitFor();
  // The first line arrived while the script still sleeps: it is streamed, not loaded at the end.
  assert.equal(await logs.getByText('step two').count(), 0, 'step two is not there yet');
  await shot(page, `${t.name} (running)`);
  await logs.getByText('step two').waitFor();
  await page.getByRole('status', { name: 'Status' }).getByText('succeeded').waitFor();
  await page.getByRole('heading', { name: 'Result' }).waitFor();

  await page.getByRole('link', { name: 'nightly-report' }).click();
  const runs = page.getByRole('table', { name: 'Runs' });
  await runs.getByText('succeeded').waitFor();
  await page.getByRole('link', { name: 'Jobs' }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'nightly-report' }) });
  await row.getByText('Europe/Berlin').waitFor();
  await row.getByRole('link', { name: /Run \d+: succeeded/ }).waitFor();
  assert.deepEqual(consoleErrors, []);
});

test('a syntax error shows a marker on its line and saves nothing', async (t) => {
  const { page, server } = await setup(t);
  await signIn(page);
  await page.goto('/jobs/new');
  await page.getByLabel('Name', { exact: true }).fill('broken');
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill("const a = 1;\nconsole.log(a);\nconst = 5;\nreturn a;\n");
  await page.getByRole('button', { name: 'Save' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Nothing was saved' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /script.*line 3/s);
  const marker = page.locator('.cm-lint-marker-error');
  await marker.waitFor();
  assert.equal(await marker.count(), 1);
  const markerBox = await marker.boundingBox();
  const line3 = await page.locator('.cm-content .cm-line').nth(2).boundingBox();
  assert.ok(
    markerBox.y + markerBox.height / 2 >= line3.y && markerBox.y + markerBox.height / 2 <= line3.y + line3.height,
    `the marker (y ${markerBox.y}) is on line 3 (y ${line3.y}..${line3.y + line3.height})`,
  );
  const list = await server.api('GET', '/jobs');
  assert.equal(list.items.length, 0, 'nothing was saved');

  // Fixed, it test-runs unsaved with its output below, then Ctrl+S saves it.
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill("const a = 1;\nconsole.log('a is', a);\nreturn a + 1;\n");
  assert.equal(await page.locator('.cm-lint-marker-error').count(), 0, 'an edit clears the old marker');
  await page.getByRole('button', { name: 'Test run' }).click();
  await page.getByRole('log', { name: 'Output' }).getByText('a is 1').waitFor();
  await page.getByRole('region', { name: 'Test run output' }).getByText('succeeded').waitFor();
  assert.equal((await server.api('GET', '/jobs')).items.length, 0, 'a test run saves nothing');
  await page.getByRole('textbox', { name: 'Script', exact: true }).press('Control+s');
  await page.getByRole('status').filter({ hasText: 'Saved version 1.' }).waitFor();
  assert.equal((await server.api('GET', '/jobs/broken')).script, "const a = 1;\nconsole.log('a is', a);\nreturn a + 1;\n");
});

test('a failed run shows its error and the failing line of the script', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api(
    'POST',
    '/jobs',
    job('throws', { schedule: null, script: "console.log('starting');\nthrow new Error('boom on line two');\n" }),
  );
  const run = await server.api('POST', `/jobs/${created.id}/run`, { trigger: 'manual' });
  await signIn(page);
  await page.goto(`/runs/${run.id}`);
  await page.getByRole('status', { name: 'Status' }).getByText('failed').waitFor();
  await page.getByText('boom on line two').first().waitFor();
  const failing = page.locator('.excerpt-line.failing');
  await failing.waitFor();
  assert.match(await failing.textContent(), /^2\s*throw new Error/);
});

test('pause and resume a job from the jobs page', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('hourly-sync', { schedule: { cron: '@hourly', timezone: 'UTC' } }));
  await signIn(page);
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'hourly-sync' }) });
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByRole('button', { name: 'Resume' }).waitFor();
  await row.getByText('paused').first().waitFor();
  assert.equal((await server.api('GET', `/jobs/${created.id}`)).enabled, false);
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.getByRole('button', { name: 'Pause' }).waitFor();
  assert.equal((await server.api('GET', `/jobs/${created.id}`)).enabled, true);
  assert.equal((await server.api('GET', `/jobs/${created.id}`)).version, 1, 'pausing makes no new version');
});

test('the jobs page searches, filters by last status and pages through the server', async (t) => {
  const { page, server } = await setup(t);
  for (let i = 0; i < 53; i++) await server.api('POST', '/jobs', job(`bulk-${String(i).padStart(2, '0')}`));
  const failing = await server.api('POST', '/jobs', job('zz-fails', { schedule: null, script: "throw new Error('no');\n" }));
  const run = await server.api('POST', `/jobs/${failing.id}/run`, { trigger: 'manual' });
  await eventually('the failing run to end', async () => (await server.api('GET', `/runs/${run.id}`)).status === 'failed');
  await signIn(page);
  await page.getByText('1–50 of 54 jobs').waitFor();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('51–54 of 54 jobs').waitFor();
  await page.getByRole('link', { name: 'zz-fails' }).waitFor();
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText('1–50 of 54 jobs').waitFor();

  await page.getByLabel('Search').fill('bulk-1');
  await page.getByText('1–10 of 10 jobs').waitFor();
  assert.match(page.url(), /\?q=bulk-1$/, 'the search is in the address');
  await page.getByLabel('Search').fill('');
  await page.getByLabel('Last status').selectOption('failed');
  await page.getByText('1–1 of 1 job').waitFor();
  await page.getByRole('link', { name: 'zz-fails' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'bulk-00' }).count(), 0);
});

test('a running run can be cancelled from its page', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api(
    'POST',
    '/jobs',
    job('long-haul', { schedule: null, timeout_seconds: 300, script: "console.log('working');\nawait new Promise((r) => setTimeout(r, 120000));\n" }),
  );
  await signIn(page);
  await page.goto(`/jobs/${created.id}`);
  await page.getByRole('button', { name: 'Run now' }).click();
  await page.getByRole('log', { name: 'Logs' }).getByText('working').waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('status', { name: 'Status' }).getByText('cancelled').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Cancel' }).isHidden(), true);
  const first = page.url();
  await page.getByRole('button', { name: 'Re-run' }).click();
  await eventually('the re-run to open', async () => page.url() !== first && /\/runs\/\d+$/.test(page.url()));
  await page.getByRole('log', { name: 'Logs' }).getByText('working').waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('status', { name: 'Status' }).getByText('cancelled').waitFor();
  const runs = await server.api('GET', `/jobs/${created.id}/runs`);
  assert.equal(runs.items.length, 2);
});

test('a timed-out run shows its status and its logs', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api(
    'POST',
    '/jobs',
    job('spins-forever', { schedule: null, timeout_seconds: 1, script: "console.log('about to spin');\nwhile (true) {}\n" }),
  );
  const run = await server.api('POST', `/jobs/${created.id}/run`, { trigger: 'manual' });
  await signIn(page);
  await page.goto(`/runs/${run.id}`);
  await page.getByRole('status', { name: 'Status' }).getByText('timed out').waitFor();
  await page.getByRole('log', { name: 'Logs' }).getByText('about to spin').waitFor();
  await page.getByRole('heading', { name: 'Error' }).waitFor();
  const finished = page.getByRole('list', { name: 'Timeline' }).getByRole('listitem').filter({ hasText: 'Finished' });
  assert.doesNotMatch(await finished.textContent(), /—/);
});

test('the job page shows a side-by-side diff of two versions and who saved them', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('evolving', { script: "const limit = 10;\nconsole.log(limit);\nreturn limit;\n" }));
  await server.api('PUT', `/jobs/${created.id}`, job('evolving', { script: "const limit = 25;\nconsole.log(limit);\nreturn limit;\n", timeout_seconds: 60 }));
  await signIn(page);
  await page.goto(`/jobs/${created.id}`);
  const versions = page.getByRole('table', { name: 'Versions' });
  await versions.getByText('v2').waitFor();
  await versions.getByText('v1').waitFor();
  const diff = page.getByRole('table', { name: 'Script diff of v1 and v2' });
  await diff.waitFor();
  assert.equal(await diff.locator('td.del').filter({ hasText: 'const limit = 10;' }).count(), 1);
  assert.equal(await diff.locator('td.add').filter({ hasText: 'const limit = 25;' }).count(), 1);
  // Unchanged lines are not marked.
  assert.equal(await diff.locator('td.del, td.add').filter({ hasText: 'console.log(limit);' }).count(), 0);
  const settings = page.getByRole('table', { name: 'Settings diff of v1 and v2' });
  assert.equal(await settings.locator('td.add').filter({ hasText: '"timeout_seconds": 60' }).count(), 1);
  // Comparing a version with itself shows no change.
  await page.getByLabel('From version').selectOption('2');
  await page.getByText('No change.').first().waitFor();
});

test('the console runs a script and shows its log and result (dark theme)', async (t) => {
  const { page } = await setup(t, { colorScheme: 'dark' });
  await signIn(page);
  await page.getByRole('link', { name: 'Console' }).click();
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill("console.log('hi from the console');\nreturn { answer: 6 * 7 };\n");
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.getByRole('log', { name: 'Output' }).getByText('hi from the console').waitFor();
  await page.getByRole('status').getByText('succeeded').waitFor();
  await page.locator('.result').getByText('42').waitFor();
});

test('settings: a token is shown once and revoked, a user is added and signs in, a storage value is set and deleted', async (t) => {
  const { page, server } = await setup(t);
  await signIn(page);
  await page.getByRole('link', { name: 'Settings' }).click();

  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByLabel('Token name').fill('ci');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = await page.getByLabel('New token').inputValue();
  assert.ok(token.length > 16, 'the new token is shown');
  await server.api('GET', '/jobs', undefined, token);
  const row = page.getByRole('table', { name: 'Tokens' }).getByRole('row').filter({ hasText: 'ci' });
  page.once('dialog', (dialog) => dialog.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke' }).waitFor({ state: 'detached' });
  assert.equal(await page.getByLabel('New token').count(), 0, 'the token is not shown again');
  await assert.rejects(server.api('GET', '/jobs', undefined, token), /401/);

  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('User name').fill('erin');
  await page.getByLabel('Password').fill('erin-password-1');
  await page.getByLabel('Role', { exact: true }).selectOption('editor');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: 'erin' }).waitFor();

  await page.getByRole('link', { name: 'Storage' }).click();
  await page.getByLabel('Key', { exact: true }).fill('greeting');
  await page.getByLabel('Value (JSON)').fill('{"hello": "world"}');
  await page.getByRole('button', { name: 'Save value' }).click();
  const entry = page.getByRole('table', { name: 'Storage' }).getByRole('row').filter({ hasText: 'greeting' });
  await entry.getByText('{"hello":"world"}').waitFor();
  assert.deepEqual(await server.api('GET', '/storage/greeting').then((v) => v.value ?? v), { hello: 'world' });
  // The default quota, and what "greeting" (8 bytes) and its JSON (17 bytes) use of it.
  const usage = page.locator('#storage-usage');
  await usage.getByText('keys: 1 of 100,000').waitFor();
  assert.match(await usage.textContent(), /size: 25 B of 256\.0 MiB/);
  await shot(page, `${t.name} (storage)`);
  page.once('dialog', (dialog) => dialog.accept());
  await entry.getByRole('button', { name: 'Delete' }).click();
  await entry.waitFor({ state: 'detached' });
  await assert.rejects(server.api('GET', '/storage/greeting'), /404/);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, 'erin', 'erin-password-1');
  await page.locator('.role').getByText('editor').waitFor();
});

test('settings: a site secret is write-only and a channel sends a real test delivery', async (t) => {
  // The receiver listens on loopback, which alert channels may reach only
  // when the operator names the host (docs/security.md).
  const { page, server } = await setup(t, { config: '[egress]\nalerts_allow_hosts = ["127.0.0.1"]\n' });
  const received = [];
  const hook = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push(body);
      response.writeHead(200);
      response.end('ok');
    });
  });
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.after(() => hook.close());
  await signIn(page);

  await page.goto('/settings/sites');
  await page.getByLabel('Site name').fill('acme');
  await page.getByLabel('Product').selectOption('jira');
  await page.getByLabel('Base URL').fill('https://acme.atlassian.net');
  await page.getByLabel('Auth').selectOption('basic');
  await page.getByLabel('Email').fill('bot@acme.test');
  await page.getByLabel('Secret').fill('s3cr3t-api-token');
  await page.getByRole('button', { name: 'Save site' }).click();
  const site = page.getByRole('table', { name: 'Sites' }).getByRole('row').filter({ hasText: 'acme.atlassian.net' });
  await site.getByRole('cell', { name: 'set', exact: true }).waitFor();
  assert.ok(!(await page.content()).includes('s3cr3t'), 'the secret is not shown back');
  assert.ok(!JSON.stringify(await server.api('GET', '/sites')).includes('s3cr3t'), 'nor returned by the API');

  await page.getByRole('link', { name: 'Channels' }).click();
  await page.getByLabel('Channel name').fill('ops-hook');
  await page.getByLabel('Kind').selectOption('webhook');
  await page.getByLabel('URL').fill(`http://127.0.0.1:${hook.address().port}/hook`);
  await page.getByRole('group', { name: 'Events' }).getByLabel('Timed out').uncheck();
  await page.getByRole('button', { name: 'Save channel' }).click();
  const channel = page.getByRole('table', { name: 'Channels' }).getByRole('row').filter({ hasText: 'ops-hook' });
  await channel.getByRole('button', { name: 'Send test' }).click();
  await page.getByRole('status').filter({ hasText: 'Test delivered to ops-hook' }).waitFor();
  assert.equal(received.length, 1, 'the receiver got one delivery');
});

test('the jobs page on a phone in dark mode, and its weight', async (t) => {
  const { page, server } = await setup(t, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  for (let i = 0; i < 8; i++) await server.api('POST', '/jobs', job(`job-${i}`, { schedule: { cron: `*/${i + 2} * * * *`, timezone: 'UTC' } }));
  await signIn(page);
  // What crossed the wire, as DevTools counts it (compressed body + headers).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  // A first visit: nothing from the cache.
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const requests = new Map();
  cdp.on('Network.responseReceived', (e) => requests.set(e.requestId, { url: e.response.url, type: e.type, encoding: e.response.headers['content-encoding'] ?? null }));
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  });
  await page.reload();
  await page.getByRole('link', { name: 'job-7' }).waitFor();
  await page.waitForLoadState('networkidle');
  const assets = [...requests.values()].filter((r) => ['Document', 'Script', 'Stylesheet'].includes(r.type));
  assert.equal(assets.length, 3, `the page, one script, one stylesheet: ${JSON.stringify(assets)}`);
  assert.ok(!assets.some((r) => /\/editor-/.test(r.url)), 'the editor chunk is not loaded on the jobs page');
  assert.ok(assets.every((r) => r.encoding === 'gzip'), 'every file comes gzip-compressed');
  const total = assets.reduce((sum, r) => sum + r.bytes, 0);
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'jobs-page-weight.json'), `${JSON.stringify({ transferred_bytes: total, assets }, null, 2)}\n`);
  console.log(`jobs page: ${total} bytes transferred for HTML+JS+CSS (gzip, headers included)`);
  // Dark theme applied, nothing wider than the phone except the scrolling table.
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 20, 25)');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page does not scroll sideways (${overflow}px)`);
});
