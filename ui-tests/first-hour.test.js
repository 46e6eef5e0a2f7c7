// What a new admin hits in the first hour (issue 14), each as a person
// would meet it in Chromium against a real `clockwork serve`: a run with a
// huge log, a run page opened while the run waits, unsaved edits, the
// channel form, errors beside their fields; and the shell's accessibility
// (titles, focus, one tab stop per run strip).
// Run with scripts/browser-tests; timings are printed, never asserted.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, setup, signIn } from './harness.js';

const job = (name, extra = {}) => ({
  name,
  schedule: { cron: '0 3 * * *', timezone: 'UTC' },
  script: "console.log('hello');\nreturn 1;\n",
  ...extra,
});

/** Lines of the log viewer now in the DOM (it draws only those near the view). */
const drawnLines = (page) => page.evaluate(() => document.querySelectorAll('[role=log] .log').length);

/** Whether the log line with exactly `text` is drawn and inside the scrolled view. */
const lineInView = (page, text) =>
  page.evaluate((text) => {
    const view = document.querySelector('[role=log]');
    const line = [...view.querySelectorAll('.log .msg')].find((m) => m.textContent === text);
    if (!line) return false;
    const a = line.getBoundingClientRect();
    const b = view.getBoundingClientRect();
    return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  }, text);

test('a run with 100,000 log lines shows its first lines at once, reaches its end at once, and draws only what is in view', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('huge-log', { schedule: null, script: 'return 1;\n' }));
  const run = await server.api('POST', `/jobs/${created.id}/run`, { trigger: 'manual' });
  await eventually('the run to end', async () => (await server.api('GET', `/runs/${run.id}`)).status === 'succeeded');
  // A run stores at most 5 MB of log (about 65,000 short lines, each counted
  // with 64 bytes of overhead), so the 100,000 lines are written into the
  // real database file, as the server stores them.
  execFileSync('sqlite3', [
    join(server.dataDir, 'data', 'clockwork.db'),
    `.timeout 10000`,
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
     INSERT INTO run_logs (run_id, seq, ts_ms, level, message)
     SELECT ${run.id}, i, ${Date.now()} + i, CASE WHEN i % 1000 = 0 THEN 'warn' ELSE 'info' END, 'line ' || i FROM n;`,
  ]);
  await signIn(page);

  const opened = Date.now();
  await page.goto(`/runs/${run.id}`);
  await eventually('line 1 in view', () => lineInView(page, 'line 1'), 30_000);
  const firstLinesMs = Date.now() - opened;
  await page.getByText('100000 lines', { exact: true }).waitFor({ timeout: 60_000 });
  const allLoadedMs = Date.now() - opened;
  assert.ok((await drawnLines(page)) < 200, `only the rows near the view are drawn (${await drawnLines(page)})`);

  const log = page.getByRole('log', { name: 'Logs' });
  await log.focus();
  const scrolled = Date.now();
  await page.keyboard.press('End');
  await eventually('line 100000 in view', () => lineInView(page, 'line 100000'), 30_000);
  const toEndMs = Date.now() - scrolled;
  assert.equal(await lineInView(page, 'line 1'), false, 'the first line is out of view');
  assert.ok((await drawnLines(page)) < 200, 'still only the rows near the view');

  // The level filter and search work on the whole log, not the drawn rows.
  await page.getByLabel('Search the log').fill('line 99999');
  await page.getByText('1 of 100000 lines').waitFor();
  await eventually('the match in view', () => lineInView(page, 'line 99999'));
  console.log(
    `100,000-line log: first lines visible after ${firstLinesMs} ms, all loaded after ${allLoadedMs} ms, End reached the last line in ${toEndMs} ms`,
  );
});

test('a run page opened while the run is queued follows it to running and finished, its log tail following', async (t) => {
  // One worker: the second run waits in the queue behind the first.
  const { page, server } = await setup(t, { config: '[scheduler]\nworkers = 1\n' });
  const blocker = await server.api(
    'POST',
    '/jobs',
    job('blocker', { schedule: null, timeout_seconds: 300, script: "console.log('blocking');\nawait new Promise((r) => setTimeout(r, 120000));\n" }),
  );
  const follower = await server.api(
    'POST',
    '/jobs',
    job('follower', {
      schedule: null,
      timeout_seconds: 300,
      script:
        "for (let i = 1; i <= 3000; i++) console.log('bulk ' + i);\n" +
        "for (let t = 1; t <= 30; t++) {\n  console.log('tick ' + t);\n  await new Promise((r) => setTimeout(r, 250));\n}\nreturn 'ok';\n",
    }),
  );
  const first = await server.api('POST', `/jobs/${blocker.id}/run`, { trigger: 'manual' });
  await eventually('the blocker to run', async () => (await server.api('GET', `/runs/${first.id}`)).status === 'running');
  const waiting = await server.api('POST', `/jobs/${follower.id}/run`, { trigger: 'manual' });
  assert.equal((await server.api('GET', `/runs/${waiting.id}`)).status, 'queued');

  await signIn(page);
  await page.goto(`/runs/${waiting.id}`);
  const status = page.getByRole('status', { name: 'Status' });
  await status.getByText('queued').waitFor();
  const started = page.getByRole('list', { name: 'Timeline' }).getByRole('listitem').filter({ hasText: 'Started' });
  assert.match(await started.textContent(), /—/);

  await server.api('POST', `/runs/${first.id}/cancel`);
  // Without a reload: the page hears the run start.
  await status.getByText('running').waitFor();
  await eventually('Started to be filled in', async () => !/—/.test(await started.textContent()));
  // The tail follows: the newest ticks come into view on their own, the bulk is not all drawn.
  await eventually('tick 12 in view', () => lineInView(page, 'tick 12'), 30_000);
  assert.ok((await drawnLines(page)) < 300, 'the 3,000 earlier lines are not all drawn');
  await eventually('tick 20 in view', () => lineInView(page, 'tick 20'), 30_000);
  await status.getByText('succeeded').waitFor({ timeout: 30_000 });
});

test('unsaved edits are not lost: leaving asks, Run now asks to save first, a reload is held', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('careful', { schedule: null, script: "return 'v1';\n" }));
  await signIn(page);
  await page.goto(`/jobs/${created.id}/edit`);
  await page.getByRole('textbox', { name: 'Script', exact: true }).waitFor();
  // Nothing changed yet: leaving does not ask.
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  await page.goBack();
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill("return 'v2';\n");

  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  await page.getByRole('link', { name: 'Jobs' }).click();
  await eventually('the leave question', () => dialogs.length === 1);
  assert.match(dialogs[0], /unsaved changes/);
  assert.match(page.url(), /\/edit$/, 'still in the editor');
  assert.equal(await page.getByRole('textbox', { name: 'Script', exact: true }).textContent(), "return 'v2';");

  // A reload (or closing the tab) is held by the browser's own question.
  const held = await page.evaluate(() => {
    const event = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(event);
    return event.defaultPrevented;
  });
  assert.equal(held, true);

  await page.getByRole('button', { name: 'Run now' }).click();
  await eventually('the save-first question', () => dialogs.length === 2);
  assert.match(dialogs[1], /Run now runs the saved version/);
  assert.equal((await server.api('GET', `/jobs/${created.id}/runs`)).items.length, 0, 'declined: nothing ran');

  page.removeAllListeners('dialog');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Run now' }).click();
  await page.waitForURL(/\/runs\/\d+$/);
  await page.getByRole('status', { name: 'Status' }).getByText('succeeded').waitFor();
  const runs = await server.api('GET', `/jobs/${created.id}/runs`);
  assert.equal(runs.items[0].job_version, 2, 'the saved edit is what ran');
  assert.equal((await server.api('GET', `/jobs/${created.id}`)).script, "return 'v2';\n");
});

test('a channel saves as the form shows it: every event checked by default', async (t) => {
  const { page, server } = await setup(t);
  await signIn(page);
  await page.goto('/settings/channels');
  const events = page.getByRole('group', { name: 'Events' });
  for (const name of ['Failed', 'Timed out', 'Interrupted', 'Missed', 'Recovered']) {
    assert.equal(await events.getByLabel(name).isChecked(), true, `${name} is checked`);
  }
  await page.getByLabel('Channel name').fill('ops');
  await page.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await page.getByRole('button', { name: 'Save channel' }).click();
  await page.getByRole('table', { name: 'Channels' }).getByRole('row').filter({ hasText: 'ops' }).waitFor();
  const saved = await server.api('GET', '/channels/ops');
  assert.deepEqual(saved.events.slice().sort(), ['failed', 'interrupted', 'missed', 'recovered', 'timed_out']);

  const row = page.getByRole('table', { name: 'Channels' }).getByRole('row').filter({ hasText: 'ops' });
  await row.getByRole('button', { name: 'Edit' }).click();
  await events.getByLabel('Missed').uncheck();
  await page.getByRole('button', { name: 'Save channel' }).click();
  await eventually('the change saved', async () => !(await server.api('GET', '/channels/ops')).events.includes('missed'));

  // Nothing checked is refused, and said once.
  await row.getByRole('button', { name: 'Edit' }).click();
  for (const box of await events.getByRole('checkbox').all()) await box.uncheck();
  await page.getByRole('button', { name: 'Save channel' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'events' });
  await alert.waitFor();
  const text = await alert.textContent();
  assert.equal(text.split('must name at least one event').length - 1, 1, `said once: ${text}`);
});

test('save errors sit beside their fields, and the name rule is shown before saving', async (t) => {
  const { page, server } = await setup(t);
  await server.api('POST', '/jobs', job('taken'));
  await signIn(page);
  await page.goto('/jobs/new');
  const name = page.getByLabel('Name', { exact: true });
  // The rule is there before any error.
  assert.match(await page.locator(`#${await name.getAttribute('id')}-hint`).textContent(), /no spaces/);
  await name.fill('taken');
  await page.getByRole('button', { name: 'Save' }).click();
  const nameError = page.locator(`#${await name.getAttribute('id')}-error`);
  await nameError.waitFor();
  assert.equal(await nameError.textContent(), 'a job named "taken" already exists');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.doesNotMatch(await page.getByRole('alert').filter({ hasText: 'Nothing was saved' }).textContent(), /\. :/);

  await name.fill('has spaces');
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Save' }).click();
  await eventually('the name error', async () => /letters|characters|name/i.test((await nameError.textContent()) ?? ''));
  const zone = page.getByLabel('Time zone');
  const zoneError = page.locator(`#${await zone.getAttribute('id')}-error`);
  await zoneError.waitFor();
  assert.match(await zoneError.textContent(), /unknown time zone "Mars\/Olympus"/);

  // A script over the limit names the limit, not the body size.
  await name.fill('big-script');
  await zone.fill('UTC');
  await page.evaluate(() => {
    const view = document.querySelector('.cm-content').cmTile.root.view;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: `// ${'x'.repeat(2 * 1024 * 1024)}\nreturn 1;\n` } });
  });
  await page.getByRole('button', { name: 'Save' }).click();
  const scriptError = page.locator('#script-error');
  await scriptError.waitFor();
  assert.match(await scriptError.textContent(), /at most 1 MiB/);
  assert.equal((await server.api('GET', '/jobs')).items.length, 1, 'nothing new was saved');
});

test('each page names the tab and takes focus; a run strip is one tab stop', async (t) => {
  const { page, server } = await setup(t);
  const created = await server.api('POST', '/jobs', job('stripy', { schedule: null }));
  for (let i = 0; i < 3; i++) {
    const run = await server.api('POST', `/jobs/${created.id}/run`, { trigger: 'manual' });
    await eventually('the run to end', async () => (await server.api('GET', `/runs/${run.id}`)).status === 'succeeded');
  }
  await signIn(page);
  await eventually('the title', async () => (await page.title()) === 'Jobs · Clockwork');
  await page.getByRole('link', { name: 'stripy' }).click();
  await eventually('the job title', async () => (await page.title()) === 'stripy · Clockwork');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main', 'focus moved to the page');

  await page.getByRole('link', { name: 'Jobs' }).click();
  const strip = page.getByRole('list', { name: /Recent runs/ });
  await strip.getByRole('link').first().waitFor();
  const stops = await strip.evaluate((el) => [...el.querySelectorAll('a')].filter((a) => a.tabIndex >= 0).length);
  assert.equal(stops, 1, 'one tab stop per strip');
  await strip.locator('a[tabindex="0"]').focus();
  const newest = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  await page.keyboard.press('ArrowLeft');
  const older = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.notEqual(older, newest, 'the arrow key moves to the older run');
  assert.match(older, /^Run \d+: succeeded$/);
});
