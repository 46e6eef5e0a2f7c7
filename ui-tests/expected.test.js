// Issue 14's "What they expected and did not find", in Debian's Chromium
// against a real `clockwork serve`: Run with inputs, Restore this version,
// times labelled with their zone, a console that remembers, logs to work
// with, and the audit log page. Run with scripts/browser-tests.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ADMIN_PASSWORD, eventually, setup, signIn } from './harness.js';

const job = (name, extra = {}) => ({
  name,
  schedule: { cron: '0 3 * * *', timezone: 'UTC' },
  script: "console.log('hello');\nreturn 1;\n",
  ...extra,
});

/** Runs job `id` through the API and waits for it to end. */
async function runToEnd(server, id, body = { trigger: 'manual' }) {
  const run = await server.api('POST', `/jobs/${id}/run`, body);
  return eventually(`run ${run.id} to end`, async () => {
    const now = await server.api('GET', `/runs/${run.id}`);
    return now.finished_at ? now : null;
  });
}

/** The text of the CodeMirror editor named `name`. */
const editorText = (page, name = 'Script') => page.getByRole('textbox', { name, exact: true }).innerText();

test('Run with inputs: a dialog takes one-off params as a JSON object and says clearly what is wrong', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const created = await server.api('POST', '/jobs', job('echo-params', { script: 'return context.params;\n', params: { who: 'saved' } }));
  await signIn(page);
  await page.goto(`/jobs/${created.id}`);
  await page.getByRole('button', { name: 'Run with inputs…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Run echo-params with inputs' });
  const params = dialog.getByLabel('Params (JSON object)');
  assert.deepEqual(JSON.parse(await params.inputValue()), { who: 'saved' }, "the job's params to start from");

  await params.fill('{"who": ');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await dialog.getByRole('alert').getByText(/Params is not valid JSON/).waitFor();
  await params.fill('[1, 2]');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await dialog.getByRole('alert').getByText('Params must be a JSON object, like {"key": "value"}.').waitFor();
  assert.equal((await server.api('GET', `/jobs/${created.id}/runs`)).items.length, 0, 'nothing ran');

  await params.fill('{"who": "one-off", "n": 2}');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForURL(/\/runs\/\d+$/);
  await page.getByRole('status', { name: 'Status' }).getByText('succeeded').waitFor();
  const runId = page.url().match(/\/runs\/(\d+)$/)[1];
  assert.deepEqual((await server.api('GET', `/runs/${runId}`)).result, { who: 'one-off', n: 2 });
  assert.deepEqual((await server.api('GET', `/jobs/${created.id}`)).params, { who: 'saved' }, "the job's params are unchanged");

  // Cancel closes the dialog and runs nothing.
  await page.goto(`/jobs/${created.id}`);
  await page.getByRole('button', { name: 'Run with inputs…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal((await server.api('GET', `/jobs/${created.id}/runs`)).items.length, 1);
  assert.deepEqual(consoleErrors, []);
});

test('Restore this version shows the script and settings diff first, then saves a new version with them', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const created = await server.api('POST', '/jobs', job('restorable', { script: 'return 1;\n' }));
  await server.api('PUT', `/jobs/${created.id}`, job('restorable', { script: 'return 2;\n', timeout_seconds: 60 }));
  await server.api('POST', `/jobs/${created.id}/pause`);
  await signIn(page);
  await page.goto(`/jobs/${created.id}`);
  const versions = page.getByRole('table', { name: 'Versions' });
  assert.equal(await versions.getByRole('button', { name: 'Restore version 2' }).count(), 0, 'the current version has no Restore');
  await versions.getByRole('button', { name: 'Restore version 1' }).click();

  const dialog = page.getByRole('dialog', { name: 'Restore version 1?' });
  const script = dialog.getByRole('table', { name: 'Script changes restoring v1' });
  await script.locator('td.del', { hasText: 'return 2;' }).waitFor();
  await script.locator('td.add', { hasText: 'return 1;' }).waitFor();
  const settings = dialog.getByRole('table', { name: 'Settings changes restoring v1' });
  await settings.locator('td.del', { hasText: '"timeout_seconds": 60' }).waitFor();
  await settings.locator('td.add', { hasText: '"timeout_seconds": 900' }).waitFor();
  assert.equal(await settings.locator('td.del, td.add', { hasText: 'enabled' }).count(), 0, 'pausing is not part of what is restored');
  // Nothing is saved until the restore is confirmed.
  assert.equal((await server.api('GET', `/jobs/${created.id}`)).version, 2);

  await dialog.getByRole('button', { name: 'Restore version 1' }).click();
  await page.getByRole('status').filter({ hasText: 'Restored version 1 as version 3.' }).waitFor();
  const restored = await server.api('GET', `/jobs/${created.id}`);
  assert.equal(restored.version, 3);
  assert.equal(restored.script, 'return 1;\n');
  assert.equal(restored.timeout_seconds, 900);
  assert.equal(restored.enabled, false, 'still paused');
  await versions.getByRole('cell', { name: 'v3 (current)' }).waitFor();
  await versions.getByRole('button', { name: 'Restore version 2' }).waitFor();
  assert.deepEqual(consoleErrors, []);
});

test("run times are labelled with the zone they are shown in, with a switch to the job's zone", async (t) => {
  const { page, server, consoleErrors } = await setup(t, { timezoneId: 'Asia/Tokyo' });
  const created = await server.api('POST', '/jobs', job('in-new-york', { schedule: { cron: '0 3 * * *', timezone: 'America/New_York' } }));
  const run = await runToEnd(server, created.id);
  await signIn(page);
  await page.goto(`/jobs/${created.id}`);
  const started = page.getByRole('table', { name: 'Runs' }).getByRole('row').nth(1).getByRole('cell').nth(3);
  await started.getByText(/GMT\+9/).waitFor();
  const zone = page.getByLabel('Show times in');
  assert.match(await zone.locator('option:checked').innerText(), /browser's zone \(Asia\/Tokyo\)/);

  await zone.selectOption('job');
  await started.getByText(/\b(EST|EDT|GMT-[45])\b/).waitFor();
  // The choice holds on the run page too.
  await page.goto(`/runs/${run.id}`);
  const timeline = page.getByRole('list', { name: 'Timeline' });
  await timeline.getByText(/\b(EST|EDT|GMT-[45])\b/).first().waitFor();
  await page.getByLabel('Show times in').selectOption('browser');
  await timeline.getByText(/GMT\+9/).first().waitFor();
  assert.deepEqual(consoleErrors, []);
});

test('the console remembers the script per user across navigation and reload, lists recent scripts, and saves one as a job', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  await server.api('POST', '/users', { name: 'bo', password: 'bo-password-123', role: 'editor' });
  await signIn(page);
  await page.getByRole('link', { name: 'Console' }).click();
  const script = page.getByRole('textbox', { name: 'Script', exact: true });
  await script.fill("return 'first script';");
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.getByRole('region', { name: 'Console output' }).getByText('first script').waitFor();
  await script.fill("return 'second script';");

  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  await page.getByRole('link', { name: 'Console' }).click();
  await eventually('the draft back after navigating', async () => (await editorText(page)).includes("'second script'"));
  await page.reload();
  await eventually('the draft back after a reload', async () => (await editorText(page)).includes("'second script'"));

  const recent = page.getByLabel('Recent scripts');
  const first = recent.locator('option', { hasText: "return 'first script';" });
  await first.waitFor({ state: 'attached' });
  await recent.selectOption(await first.getAttribute('value'));
  await eventually('the picked script in the editor', async () => (await editorText(page)).includes("'first script'"));

  // Another user in the same browser starts from their own draft.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, 'bo', 'bo-password-123');
  await page.getByRole('link', { name: 'Console' }).click();
  await eventually("bo's console starts from the example", async () => (await editorText(page)).includes('hello from the console'));
  assert.equal(await page.getByLabel('Recent scripts').locator('option', { hasText: 'first script' }).count(), 0);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Console' }).click();
  await eventually("admin's draft is still theirs", async () => (await editorText(page)).includes("'first script'"));

  await page.getByRole('button', { name: 'Save as job' }).click();
  await page.waitForURL(/\/jobs\/new$/);
  await eventually('the script in the job editor', async () => (await editorText(page)).includes("'first script'"));
  await page.getByLabel('Name', { exact: true }).fill('from-the-console');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 1.' }).waitFor();
  assert.equal((await server.api('GET', '/jobs/from-the-console')).script, "return 'first script';");
  assert.deepEqual(consoleErrors, []);
});

test("a run's log filters by level, searches, and downloads as text and JSON lines", async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const created = await server.api(
    'POST',
    '/jobs',
    job('noisy', { script: "console.log('plain one');\nconsole.warn('careful two');\nconsole.error('broken three');\nconsole.log('plain four');\nreturn 1;\n" }),
  );
  const run = await runToEnd(server, created.id);
  await signIn(page);
  await page.goto(`/runs/${run.id}`);
  const log = page.getByRole('log', { name: 'Logs' });
  await log.getByText('plain four').waitFor();
  await page.getByLabel('Level').selectOption({ label: 'warn and above' });
  await page.getByText('2 of 4 lines').waitFor();
  assert.equal(await log.getByText('plain one').count(), 0);
  await log.getByText('careful two').waitFor();
  await page.getByLabel('Search the log').fill('broken');
  await page.getByText('1 of 4 lines').waitFor();

  const [text] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .txt' }).click()]);
  assert.equal(text.suggestedFilename(), `run-${run.id}.txt`);
  const lines = readFileSync(await text.path(), 'utf8').trim().split('\n');
  assert.equal(lines.length, 4, 'the download holds the whole log, not the filtered view');
  assert.match(lines[2], /ERROR broken three$/);
  const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .jsonl' }).click()]);
  const records = readFileSync(await jsonl.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(
    records.map((r) => [r.level, r.message]),
    [
      ['info', 'plain one'],
      ['warn', 'careful two'],
      ['error', 'broken three'],
      ['info', 'plain four'],
    ],
  );
  assert.deepEqual(consoleErrors, []);
});

test('the audit log page: who changed what and when, filtered by job and user, a page at a time; admins only', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const busy = await server.api('POST', '/jobs', job('busy-job'));
  await server.api('POST', '/jobs', job('quiet-job'));
  for (let i = 0; i < 55; i++) await server.api('PATCH', `/jobs/${busy.id}`, { description: `edit ${i}` });
  await server.api('POST', '/users', { name: 'vi', password: 'vi-password-123', role: 'editor' });

  await signIn(page);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Audit log' }).click();
  const entries = page.getByRole('table', { name: 'Audit log' }).locator('tbody tr');
  await entries.nth(49).waitFor();
  assert.equal(await entries.count(), 50, 'one page');
  await page.getByRole('table', { name: 'Audit log' }).getByText('user.create').waitFor();
  await page.getByRole('button', { name: 'Older entries' }).click();
  await entries.nth(50).waitFor();

  await page.getByLabel('Job', { exact: true }).fill('quiet-job');
  await page.getByRole('button', { name: 'Filter' }).click();
  await eventually('only quiet-job entries', async () => (await entries.count()) === 1);
  await entries.first().getByText('job.create').waitFor();
  assert.match(page.url(), /\/settings\/audit\?job=quiet-job$/);

  await page.getByLabel('Job', { exact: true }).fill('');
  await page.getByLabel('User', { exact: true }).fill('nobody');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByText('No entries match.').waitFor();
  await page.getByLabel('Job', { exact: true }).fill('no-such-job');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('alert').getByText(/no job with id or name "no-such-job"/).waitFor();

  // From a job's page, its own entries.
  await page.goto(`/jobs/${busy.id}`);
  await page.getByRole('link', { name: 'Audit log of this job' }).click();
  await eventually('busy-job entries only', async () => (await entries.count()) === 50);
  assert.equal(await page.getByRole('table', { name: 'Audit log' }).getByText('quiet-job').count(), 0);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, 'vi', 'vi-password-123');
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('navigation', { name: 'Settings sections' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0, 'not for editors');
  assert.deepEqual(consoleErrors, []);
});

test('many jobs at once: select rows (or the page) to pause, resume and delete them; descriptions in the list', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  for (const name of ['alpha', 'beta', 'gamma']) await server.api('POST', '/jobs', job(name, { description: `the ${name} report` }));
  const enabledOf = async () => Object.fromEntries((await server.api('GET', '/jobs')).items.map((j) => [j.name, j.enabled]));
  await signIn(page);
  const jobs = page.getByRole('table', { name: 'Jobs' });
  await jobs.getByRole('cell', { name: 'the beta report' }).waitFor();
  const bar = page.getByRole('group', { name: 'Selected jobs' });
  assert.equal(await bar.isVisible(), false, 'no bar without a selection');

  await page.getByLabel('Select alpha').check();
  await page.getByLabel('Select beta').check();
  await bar.getByText('2 selected').waitFor();
  await bar.getByRole('button', { name: 'Pause selected' }).click();
  await eventually('alpha and beta paused', async () => JSON.stringify(await enabledOf()) === JSON.stringify({ alpha: false, beta: false, gamma: true }));
  await jobs.getByRole('row').filter({ hasText: 'beta' }).getByText('paused', { exact: true }).first().waitFor();
  // The selection survives the refresh.
  assert.equal(await page.getByLabel('Select alpha').isChecked(), true);
  await bar.getByRole('button', { name: 'Resume selected' }).click();
  await eventually('alpha and beta resumed', async () => Object.values(await enabledOf()).every(Boolean));

  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /Delete 2 jobs \(alpha, beta\)/);
    dialog.accept();
  });
  await bar.getByRole('button', { name: 'Delete selected' }).click();
  await eventually('alpha and beta deleted', async () => JSON.stringify(Object.keys(await enabledOf())) === '["gamma"]');
  await jobs.getByRole('link', { name: 'alpha' }).waitFor({ state: 'detached' });
  await page.getByLabel('Select every job on this page').check();
  await bar.getByText('1 selected').waitFor();
  await bar.getByRole('button', { name: 'Clear selection' }).click();
  await bar.waitFor({ state: 'hidden' });
  assert.deepEqual(consoleErrors, []);
});

test('tags: set in the editor (a bad one refused beside the field), shown in the list, and filtering it', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  await server.api('POST', '/jobs', job('invoice-sync', { tags: ['billing', 'nightly'] }));
  await server.api('POST', '/jobs', job('ledger-report', { tags: ['billing'] }));
  const cleanup = await server.api('POST', '/jobs', job('cleanup'));
  await signIn(page);
  const jobs = page.getByRole('table', { name: 'Jobs' });
  await jobs.getByRole('link', { name: 'cleanup' }).waitFor();
  await jobs.getByRole('row').filter({ hasText: 'invoice-sync' }).getByRole('button', { name: 'billing' }).click();
  await jobs.getByRole('link', { name: 'cleanup' }).waitFor({ state: 'detached' });
  assert.match(page.url(), /\?tag=billing$/);
  assert.equal(await jobs.getByRole('link', { name: /invoice-sync|ledger-report/ }).count(), 2);
  await page.getByText('1–2 of 2 jobs').waitFor();
  await page.getByLabel('Tag', { exact: true }).fill('');
  await jobs.getByRole('link', { name: 'cleanup' }).waitFor();

  await page.goto(`/jobs/${cleanup.id}/edit`);
  const tags = page.getByLabel('Tags', { exact: true });
  await tags.fill('ops, weekly/old');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator(`#${await tags.getAttribute('id')}-error`).getByText(/"weekly\/old" is not a tag/).waitFor();
  assert.deepEqual((await server.api('GET', `/jobs/${cleanup.id}`)).tags, [], 'nothing saved');
  await tags.fill('ops, weekly');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
  assert.deepEqual((await server.api('GET', `/jobs/${cleanup.id}`)).tags, ['ops', 'weekly']);
  await page.goto(`/jobs/${cleanup.id}`);
  await page.getByRole('link', { name: 'weekly' }).click();
  await page.waitForURL(/\/\?tag=weekly$/);
  await jobs.getByRole('link', { name: 'cleanup' }).waitFor();
  assert.equal(await jobs.getByRole('link', { name: 'invoice-sync' }).count(), 0);
  assert.deepEqual(consoleErrors, []);
});

test('saving in the editor keeps the settings the form does not show (language, handler, env, queue, retention, run as)', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const kept = {
    language: 'typescript',
    handler: 'trigger',
    env: { REGION: 'eu', TOKEN: 'secret:jira-token' },
    queue: 'invoices',
    retention: { keep_runs: 7, keep_days: 3 },
  };
  const created = await server.api('POST', '/jobs', job('typed-sync', {
    ...kept,
    script: "export const trigger = async (): Promise<number> => 1;\n",
  }));
  await signIn(page);
  await page.goto(`/jobs/${created.id}/edit`);
  await page.getByLabel('Description', { exact: true }).fill('edited in the browser');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
  const saved = await server.api('GET', `/jobs/${created.id}`);
  assert.equal(saved.description, 'edited in the browser');
  for (const [field, value] of Object.entries(kept)) assert.deepEqual(saved[field], value, field);
  assert.deepEqual(consoleErrors, []);
});

test("the editor shows a Forge API name's signature and what it does on hover", async (t) => {
  const { page, consoleErrors } = await setup(t);
  await signIn(page);
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill('const res = await api.asApp().requestJira(route`/rest/api/3/myself`);\nreturn res.status;\n');
  // The words are parts of text nodes: point the mouse at the middle of one.
  const pointAt = async (word) => {
    const at = await page.evaluate((w) => {
      const walker = document.createTreeWalker(document.querySelector('.cm-content'), NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const i = node.textContent.indexOf(w);
        if (i < 0) continue;
        const range = document.createRange();
        range.setStart(node, i + Math.floor(w.length / 2));
        range.setEnd(node, i + Math.floor(w.length / 2) + 1);
        const r = range.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
      return null;
    }, word);
    assert.ok(at, `${word} is in the editor`);
    await page.mouse.move(at.x, at.y);
  };
  await pointAt('requestJira');
  const tip = page.locator('.cm-tooltip-hover .forge-doc');
  await tip.getByText('requestJira(route, init?) → Promise<Response>').waitFor();
  await tip.getByText(/non-2xx status does not throw/).waitFor();
  await pointAt('myself');
  await tip.waitFor({ state: 'detached' });
  assert.deepEqual(consoleErrors, []);
});

test("the job editor is tall and resizable, with Test run's output below or beside it (remembered)", async (t) => {
  const { page, consoleErrors } = await setup(t, { viewport: { width: 1400, height: 900 } });
  await signIn(page);
  await page.getByRole('link', { name: 'New job' }).click();
  const editor = page.locator('.editor-box');
  await page.getByRole('textbox', { name: 'Script', exact: true }).fill("console.log('side by side');\nreturn 1;\n");
  const box = await editor.boundingBox();
  assert.ok(box.height >= 900 * 0.6, `the editor is most of the window's height (${box.height}px)`);
  assert.equal(await editor.evaluate((el) => getComputedStyle(el).resize), 'vertical');

  await page.getByLabel('Place Test run output').selectOption('beside');
  await page.getByRole('button', { name: 'Test run' }).click();
  const output = page.getByRole('region', { name: 'Test run output' });
  await output.getByText('side by side').waitFor();
  const out = await output.boundingBox();
  const script = await editor.boundingBox();
  assert.ok(out.x >= script.x + script.width, 'the output is to the right of the editor');
  assert.ok(out.y < script.y + script.height, 'and beside it, not below');

  await page.reload();
  await page.getByRole('textbox', { name: 'Script', exact: true }).waitFor();
  assert.equal(await page.getByLabel('Place Test run output').inputValue(), 'beside', 'remembered');
  await page.getByLabel('Place Test run output').selectOption('below');
  const below = await page.getByRole('region', { name: 'Test run output' }).boundingBox();
  const again = await editor.boundingBox();
  assert.ok(below.y >= again.y + again.height, 'below the editor');
  assert.deepEqual(consoleErrors, []);
});

test('Format document: JavaScript and TypeScript, comments kept, one undo step, a syntax error named by line', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const messy = "// fetch the user\nconst res=await api.asApp().requestJira(route`/rest/api/3/myself`)\nconsole.log('status',res.status) /* why: audit */\nreturn {ok:res.ok}\n";
  const created = await server.api('POST', '/jobs', job('messy', { script: messy }));
  const typed = await server.api('POST', '/jobs', job('typed', { language: 'typescript', script: 'interface Row {id:number}\nconst rows:Row[]=[{id:1}]\nreturn rows.map((r:Row)=>r.id)\n' }));
  const formatChunk = [];
  page.on('request', (request) => {
    if (/\/assets\/format-/.test(request.url())) formatChunk.push(request.url());
  });
  await signIn(page);
  await page.goto(`/jobs/${created.id}/edit`);
  const script = page.getByRole('textbox', { name: 'Script', exact: true });
  await script.waitFor();
  const before = await editorText(page);
  assert.deepEqual(formatChunk, [], 'the formatter is not loaded before it is used');

  await page.getByRole('button', { name: 'Format' }).click();
  await page.getByRole('status').filter({ hasText: 'Formatted' }).waitFor();
  assert.equal(formatChunk.length, 1, 'the formatter is its own chunk, loaded on first use');
  const formatted = await editorText(page);
  assert.equal(
    formatted.trimEnd(),
    '// fetch the user\nconst res = await api.asApp().requestJira(route`/rest/api/3/myself`);\nconsole.log("status", res.status); /* why: audit */\nreturn { ok: res.ok };',
  );
  // One undo step takes the whole format back.
  await script.click();
  await page.keyboard.press('Control+z');
  await eventually('the format undone', async () => (await editorText(page)) === before);
  // The shortcut formats too; saving keeps what it made.
  await page.keyboard.press('Shift+Alt+F');
  await eventually('formatted again', async () => (await editorText(page)) === formatted);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
  assert.match((await server.api('GET', `/jobs/${created.id}`)).script, /^const res = await/m);

  // A syntax error leaves the text as it is and names the line.
  const broken = 'const a = 1;\nconst b = ;\nreturn a;';
  await script.fill(broken);
  const unformatted = await editorText(page);
  await page.keyboard.press('Shift+Alt+F');
  await page.locator('#script-error').getByText('Cannot format: Unexpected token (line 2, column 11). The script is unchanged.').waitFor();
  assert.equal(await editorText(page), unformatted);
  await page.locator('.cm-lintRange-error').first().waitFor();

  // TypeScript is formatted as TypeScript (its types kept).
  await page.goto(`/jobs/${typed.id}/edit`);
  await script.waitFor();
  await page.getByRole('button', { name: 'Format' }).click();
  await page.getByRole('status').filter({ hasText: 'Formatted' }).waitFor();
  assert.equal(
    (await editorText(page)).trimEnd(),
    'interface Row {\n  id: number;\n}\nconst rows: Row[] = [{ id: 1 }];\nreturn rows.map((r: Row) => r.id);',
  );

  // The console formats its script too; its errors go to its banner.
  await page.goto('/console');
  await script.fill('const x = {a:1\n');
  await page.getByRole('button', { name: 'Format' }).click();
  await page.getByText(/Cannot format: .*\(line 2, column 1\)\. The script is unchanged\./).waitFor();
  await script.fill('return {a:1}');
  await page.getByRole('button', { name: 'Format' }).click();
  await eventually('the console script formatted', async () => (await editorText(page)).trimEnd() === 'return { a: 1 };');
  assert.deepEqual(consoleErrors, []);
});

test('owners: a column and a filter on the jobs page, a new job is its creator’s, descriptions shortened with the whole on hover', async (t) => {
  const { page, server, consoleErrors } = await setup(t);
  const long = `Copies every invoice from the billing system into Jira, then ${'checks each one again, '.repeat(12)}and reports.`;
  await server.api('POST', '/jobs', job('invoice-sync', { owner: 'Ada <ada@example.com>', description: long }));
  await server.api('POST', '/jobs', job('cleanup', { owner: 'grace' }));
  await server.api('POST', '/jobs', job('orphan'));
  await signIn(page);
  const jobs = page.getByRole('table', { name: 'Jobs' });
  await jobs.getByRole('link', { name: 'orphan' }).waitFor();
  await jobs.getByRole('columnheader', { name: 'Owner' }).waitFor();

  const about = jobs.getByRole('row').filter({ hasText: 'invoice-sync' }).locator('.about');
  assert.equal(await about.getAttribute('title'), long, 'the whole description on hover');
  const box = await about.evaluate((el) => ({ shown: el.clientHeight, whole: el.scrollHeight, line: parseFloat(getComputedStyle(el).lineHeight) }));
  assert.ok(box.whole > box.shown && box.shown <= 2 * box.line + 1, `shortened to two lines: ${JSON.stringify(box)}`);

  await jobs.getByRole('button', { name: 'Ada <ada@example.com>' }).click();
  await jobs.getByRole('link', { name: 'orphan' }).waitFor({ state: 'detached' });
  assert.match(page.url(), /\?owner=Ada/);
  assert.equal(await jobs.getByRole('link', { name: 'invoice-sync' }).count(), 1);
  await page.getByText('1–1 of 1 job').waitFor();
  await page.getByLabel('Owner', { exact: true }).fill('GRACE');
  await jobs.getByRole('link', { name: 'invoice-sync' }).waitFor({ state: 'detached' });
  await jobs.getByRole('link', { name: 'cleanup' }).waitFor();
  await page.getByLabel('Owner', { exact: true }).fill('');
  await jobs.getByRole('link', { name: 'orphan' }).waitFor();

  // A job made in the browser is its creator's unless the form names another.
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByLabel('Name', { exact: true }).fill('made-here');
  assert.equal(await page.getByLabel('Owner', { exact: true }).getAttribute('placeholder'), 'empty: admin');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 1.' }).waitFor();
  assert.equal((await server.api('GET', '/jobs/made-here')).owner, 'admin');
  await page.reload();
  const owner = page.getByLabel('Owner', { exact: true });
  assert.equal(await owner.inputValue(), 'admin');
  await owner.fill('ops@example.com');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
  assert.equal((await server.api('GET', '/jobs/made-here')).owner, 'ops@example.com');
  // The job page names the owner, linking to the jobs they look after.
  await page.getByRole('link', { name: /^Back to made-here/ }).click();
  await page.getByRole('link', { name: 'ops@example.com' }).click();
  await page.waitForURL(/\/\?owner=ops%40example\.com$/);
  await jobs.getByRole('link', { name: 'made-here' }).waitFor();
  assert.equal(await jobs.getByRole('link', { name: 'orphan' }).count(), 0);
  assert.deepEqual(consoleErrors, []);
});
