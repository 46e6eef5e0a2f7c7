// The job editor: name, schedule with its English description and next 5
// instants (live, from /cron/preview), a searchable time-zone picker,
// policies, params, and the script in CodeMirror. Save (Ctrl/Cmd+S) makes a
// new version and puts the server's errors on their fields (scripts: a
// marker at the line/column); Run now queues the saved version (asking to
// save unsaved edits first); Test run (Ctrl/Cmd+Enter) runs the unsaved
// script with its output below or beside it (a choice remembered in this
// browser); the editor is most of the window's height and its corner drags
// to resize it. Leaving with unsaved edits asks first.

import { navigate } from './app.js';
import { errorBanner, field, setFieldError } from './components.js';
import { api, ApiError, debounce, fill, h, session } from './lib.js';
import { consoleRun } from './output.js';

/** The server's limit on a script (store::MAX_SCRIPT_BYTES), checked here to name it before sending. */
const MAX_SCRIPT_BYTES = 1024 * 1024;

const NEW_SCRIPT = `// Runs as the body of an async function: await and return work.
const res = await api.asApp().requestJira(route\`/rest/api/3/myself\`);
console.log('status', res.status);
return { ok: res.ok };
`;

/** Where Test run's output goes: `below` or `beside` the editor. */
const LAYOUT_KEY = 'clockwork.outputLayout';

/** Where the console leaves a script for "Save as job" (read once by the new-job editor). */
export const DRAFT_KEY = 'clockwork.newJobDraft';

/** The console's draft `{script, params}`, taken (so a later New job starts clean), or null. */
function takeDraft() {
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? 'null');
    sessionStorage.removeItem(DRAFT_KEY);
    return draft && typeof draft.script === 'string' ? draft : null;
  } catch {
    return null;
  }
}

function zones() {
  try {
    const list = Intl.supportedValuesOf('timeZone');
    return list.includes('UTC') ? list : ['UTC', ...list];
  } catch {
    return ['UTC'];
  }
}

export async function editorPage(main, ctx, jobRef) {
  const canEdit = session.user.role !== 'viewer';
  let job = jobRef ? await api('GET', `/jobs/${encodeURIComponent(jobRef)}`, undefined, { signal: ctx.signal }) : null;
  const editorModule = import('./editor.js');
  const draft = job ? null : takeDraft();
  let editor = null;

  const input = (props) => h('input', { disabled: !canEdit, ...props });
  const select = (name, options, value) =>
    h('select', { name, disabled: !canEdit }, options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));

  const name = input({ name: 'name', required: true, value: job?.name ?? '', autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z0-9._\\-]+' });
  const description = input({ name: 'description', value: job?.description ?? '' });
  const owner = input({ name: 'owner', value: job?.owner ?? '', autocomplete: 'off', placeholder: job ? 'nobody named' : `empty: ${session.user.name}` });
  const tags = input({ name: 'tags', value: (job?.tags ?? []).join(', '), autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. billing, nightly' });
  const cron = input({
    name: 'schedule',
    value: job?.schedule?.cron ?? (job ? '' : '0 * * * *'),
    placeholder: 'empty: runs only on demand',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'cron-description',
  });
  const tz = input({ name: 'timezone', value: job?.schedule?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC', list: 'zones', autocomplete: 'off', spellcheck: 'false' });
  const zoneList = h('datalist', { id: 'zones' }, zones().map((z) => h('option', { value: z })));
  const enabled = input({ type: 'checkbox', name: 'enabled', checked: job ? job.enabled : true });
  const timeout = input({ type: 'number', name: 'timeout_seconds', min: 1, max: 86400, value: job?.timeout_seconds ?? 900 });
  const memory = input({ type: 'number', name: 'memory_limit_mb', min: 1, value: job?.memory_limit_mb ?? 256 });
  const overlap = select('overlap', [['skip', 'Skip'], ['queue_one', 'Queue one'], ['allow', 'Allow'], ['replace', 'Replace']], job?.overlap ?? 'skip');
  const misfire = select('misfire', [['run_once', 'Run once'], ['skip', 'Skip'], ['run_all', 'Run all']], job?.misfire ?? 'run_once');
  const attempts = input({ type: 'number', name: 'max_attempts', min: 1, max: 100, value: job?.retry?.max_attempts ?? 1 });
  const backoff = input({ type: 'number', name: 'backoff_seconds', min: 0, value: job?.retry?.backoff_seconds ?? 30 });
  const params = h('textarea', { name: 'params', rows: 3, spellcheck: 'false', disabled: !canEdit, value: JSON.stringify(job?.params ?? draft?.params ?? {}, null, 2) });

  const scriptError = h('p', { class: 'field-error', id: 'script-error', hidden: true });
  const cronDescription = h('p', { id: 'cron-description', class: 'cron-description', 'aria-live': 'polite' });
  const nextList = h('ol', { class: 'next-list', 'aria-label': 'Next runs' });
  const scriptBox = h('div', { class: 'editor-box' }, h('p', { class: 'muted' }, 'Loading the editor…'));
  const errors = errorBanner();
  const notice = h('p', { role: 'status', class: 'notice' });
  const output = h('section', { class: 'output', 'aria-label': 'Test run output' });
  const layout = localStorage.getItem(LAYOUT_KEY) === 'beside' ? 'beside' : 'below';
  const workbench = h(
    'div',
    { class: `workbench ${layout}` },
    h('div', { class: 'field' }, h('span', { id: 'script-label' }, 'Script'), scriptBox, scriptError),
    output,
  );
  const layoutChoice = h(
    'select',
    {
      onChange: (e) => {
        const value = e.target.value;
        localStorage.setItem(LAYOUT_KEY, value);
        workbench.className = `workbench ${value}`;
      },
    },
    h('option', { value: 'below', selected: layout === 'below' }, 'below the editor'),
    h('option', { value: 'beside', selected: layout === 'beside' }, 'beside the editor'),
  );

  const saveButton = h('button', { type: 'submit', class: 'primary', disabled: !canEdit, title: canEdit ? 'Save (Ctrl/Cmd+S)' : 'Viewers cannot save' }, 'Save');
  const runNowButton = h('button', { type: 'button', disabled: !canEdit || !job, onClick: runNow }, 'Run now');
  const testButton = h('button', { type: 'button', disabled: !canEdit, title: 'Test run (Ctrl/Cmd+Enter)', onClick: testRun }, 'Test run');
  const stopButton = h('button', { type: 'button', hidden: true }, 'Stop');
  const formatButton = h('button', { type: 'button', disabled: true, onClick: () => editor?.format() }, 'Format');

  const form = h(
    'form',
    { class: 'editor-form', novalidate: true, 'aria-label': 'Job' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, job ? `Edit ${job.name}` : 'New job'),
      job && h('a', { href: `/jobs/${job.id}` }, `Back to ${job.name}`),
    ),
    !canEdit && h('p', { class: 'notice' }, 'You are signed in as a viewer: you can read this job but not change or run it.'),
    h(
      'div',
      { class: 'grid2' },
      h('div', null, field('Name', name, 'Letters, digits, dots, underscores and hyphens; no spaces. Not only digits.'), field('Description', description), field('Owner', owner, 'Who looks after this job: a name or an e-mail address.'), field('Tags', tags, 'Short words to find the job by on the jobs page, separated by commas: letters, digits, dots, underscores and hyphens.')),
      h(
        'div',
        null,
        field('Schedule', cron, cronDescription),
        field('Time zone', tz),
        zoneList,
        nextList,
      ),
    ),
    h(
      'details',
      { class: 'policies' },
      h('summary', null, 'Policies and parameters'),
      h(
        'div',
        { class: 'grid3' },
        h('label', { class: 'check' }, enabled, ' Enabled'),
        field('Timeout (seconds)', timeout),
        field('Memory limit (MiB)', memory),
        field('Overlap', overlap),
        field('Misfire', misfire),
        field('Max attempts', attempts),
        field('Retry backoff (seconds)', backoff),
      ),
      field('Params (JSON)', params),
    ),
    h('div', { class: 'filters' }, h('label', null, 'Place Test run output ', layoutChoice)),
    workbench,
    errors.el,
    h('div', { class: 'buttons sticky' }, saveButton, runNowButton, testButton, formatButton, stopButton, notice),
  );
  fill(main, form);

  // The cron description and next instants follow the input.
  let previewSeq = 0;
  const preview = debounce(async () => {
    const seq = ++previewSeq;
    const expr = cron.value.trim();
    if (!expr) {
      cronDescription.className = 'cron-description muted';
      cronDescription.textContent = 'No schedule: the job runs only on demand.';
      fill(nextList);
      return;
    }
    const q = new URLSearchParams({ expr, tz: tz.value.trim() || 'UTC', count: '5' });
    try {
      const answer = await api('GET', `/cron/preview?${q}`, undefined, { signal: ctx.signal });
      if (seq !== previewSeq) return;
      cronDescription.className = 'cron-description';
      cronDescription.textContent = answer.description;
      fill(nextList, answer.next.map((t) => h('li', null, h('time', { datetime: t }, t.replace('T', ' ')))));
    } catch (error) {
      if (seq !== previewSeq || error.name === 'AbortError') return;
      cronDescription.className = 'cron-description error';
      const first = error instanceof ApiError ? error.fieldErrors[0] : null;
      cronDescription.textContent = first ? `${first.message}${first.column ? ` (column ${first.column})` : ''}` : error.message;
      fill(nextList);
    }
  }, 150);
  cron.addEventListener('input', preview);
  tz.addEventListener('input', preview);
  preview();

  const { createEditor, FORMAT_KEY, formatFailure } = await editorModule;
  if (ctx.signal.aborted) return;
  scriptBox.replaceChildren();
  editor = createEditor(scriptBox, {
    doc: job?.script ?? draft?.script ?? NEW_SCRIPT,
    label: 'Script',
    readOnly: !canEdit,
    language: () => job?.language ?? 'javascript',
    onSave: () => save(),
    onRun: () => testRun(),
    onFormat: showFormatted,
  });
  formatButton.disabled = !canEdit;
  formatButton.title = `Format document (${FORMAT_KEY.label})`;
  editor.view.contentDOM.setAttribute('aria-labelledby', 'script-label');
  editor.view.contentDOM.setAttribute('aria-label', 'Script');

  // Ctrl/Cmd+S and Ctrl/Cmd+Enter from any field of the form too.
  const keys = (event) => {
    // The editor's own keymap has already handled it when focus is there.
    if (event.defaultPrevented || !(event.ctrlKey || event.metaKey)) return;
    if (event.key === 's') {
      event.preventDefault();
      save();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      testRun();
    }
  };
  document.addEventListener('keydown', keys);
  ctx.cleanup.push(() => document.removeEventListener('keydown', keys));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save();
  });

  // Where each field the server names is shown.
  const controls = {
    name,
    description,
    owner,
    schedule: cron,
    'schedule.cron': cron,
    'schedule.timezone': tz,
    timeout_seconds: timeout,
    memory_limit_mb: memory,
    overlap,
    misfire,
    'retry.max_attempts': attempts,
    'retry.backoff_seconds': backoff,
    params,
    tags,
  };

  /** What formatting did, shown where the script's errors are (the editor module is loaded by then). */
  function showFormatted(outcome) {
    const failure = outcome.error ? formatFailure(outcome.error) : null;
    // A save's errors stay until the next save; an earlier format failure goes.
    if (failure || scriptError.textContent.startsWith('Cannot format')) {
      scriptError.hidden = !failure;
      scriptError.textContent = failure ?? '';
    }
    notice.textContent = outcome.ok ? 'Formatted (Ctrl/Cmd+Z undoes it).' : '';
  }

  /** Puts each error beside its field (scripts: a marker at its line) and lists them all above the buttons. */
  function showErrors(list, error = null) {
    for (const control of Object.values(controls)) setFieldError(control, null);
    scriptError.hidden = true;
    if (!list.length) {
      errors.hide();
      return;
    }
    for (const e of list) {
      if (controls[e.field]) setFieldError(controls[e.field], e.message);
      else if (e.field === 'script') {
        scriptError.hidden = false;
        scriptError.textContent = `${e.message}${e.line ? ` (line ${e.line}${e.column ? `, column ${e.column}` : ''})` : ''}`;
      }
    }
    errors.show(error ?? new ApiError(422, { errors: list }), 'Nothing was saved:');
    const first = list.map((e) => controls[e.field]).find(Boolean);
    if (first?.closest('details')) first.closest('details').open = true;
  }

  function body() {
    let parsedParams;
    try {
      parsedParams = params.value.trim() ? JSON.parse(params.value) : {};
    } catch (error) {
      throw new ApiError(422, { detail: 'Params is not valid JSON', errors: [{ field: 'params', message: `not valid JSON: ${error.message}` }] });
    }
    const scriptBytes = new TextEncoder().encode(editor.value).length;
    if (scriptBytes > MAX_SCRIPT_BYTES) {
      throw new ApiError(422, {
        detail: 'The script is too large',
        errors: [{ field: 'script', message: `is ${scriptBytes.toLocaleString('en')} bytes; a script may be at most 1 MiB (${MAX_SCRIPT_BYTES.toLocaleString('en')} bytes)` }],
      });
    }
    const number = (el) => (el.value === '' ? undefined : Number(el.value));
    const input = {
      name: name.value.trim(),
      description: description.value,
      owner: owner.value.trim(),
      schedule: cron.value.trim() ? { cron: cron.value.trim(), timezone: tz.value.trim() || 'UTC' } : null,
      script: editor.value,
      enabled: enabled.checked,
      timeout_seconds: number(timeout),
      memory_limit_mb: number(memory),
      overlap: overlap.value,
      misfire: misfire.value,
      retry: { max_attempts: number(attempts), backoff_seconds: number(backoff) },
      params: parsedParams,
      tags: tags.value.split(/[\s,]+/).filter(Boolean),
    };
    // PUT replaces the whole job: the settings this form does not show
    // (language, handler, env, queue, retention, run as, and any added later)
    // go back as they were read. The read-only fields of the job as read are
    // accepted and ignored by the API.
    return job ? { ...job, ...input, version: job.version } : input;
  }

  // What was last saved (or loaded): the page has unsaved edits when the form differs.
  const snapshot = () => JSON.stringify([...form.querySelectorAll('input, select, textarea')].map((el) => (el.type === 'checkbox' ? el.checked : el.value)).concat(editor.value));
  // A script brought from the console is unsaved until it is saved as a job.
  let saved = draft ? '' : snapshot();
  const unsaved = () => canEdit && snapshot() !== saved;
  ctx.unsaved = unsaved;

  let saving = false;
  /** Saves; resolves to true when the server took it. */
  async function save() {
    if (!canEdit || saving) return false;
    saving = true;
    saveButton.disabled = true;
    notice.textContent = 'Saving…';
    try {
      const input = body();
      const answer = job
        ? await api('PUT', `/jobs/${job.id}`, input, { signal: ctx.signal })
        : await api('POST', '/jobs', input, { signal: ctx.signal });
      const created = !job;
      job = answer;
      saved = snapshot();
      showErrors([]);
      editor.setErrors([]);
      notice.textContent = `Saved version ${answer.version}.`;
      runNowButton.disabled = false;
      form.querySelector('h1').textContent = `Edit ${answer.name}`;
      document.title = `Edit ${answer.name} · Clockwork`;
      if (created) history.replaceState(null, '', `/jobs/${answer.id}/edit`);
      return true;
    } catch (error) {
      if (error.name === 'AbortError') return false;
      notice.textContent = '';
      const list = error instanceof ApiError && error.fieldErrors.length ? error.fieldErrors : [{ field: '.', message: error.message }];
      showErrors(list, error);
      const scriptErrors = list.filter((e) => e.field === 'script' || e.pointer === '/script');
      editor.setErrors(scriptErrors.filter((e) => e.line).map((e) => ({ line: e.line, column: e.column, message: e.message ?? e.detail })));
      return false;
    } finally {
      saving = false;
      saveButton.disabled = !canEdit;
    }
  }

  /** Runs the saved version; with unsaved edits, asks to save them first (Test run runs them unsaved). */
  async function runNow() {
    if (!job) return;
    if (unsaved()) {
      if (!confirm('Run now runs the saved version. Save your changes first and run them? (Cancel keeps editing; Test run runs unsaved changes.)')) return;
      if (!(await save())) return;
    }
    runNowButton.disabled = true;
    try {
      const run = await api('POST', `/jobs/${job.id}/run`, { trigger: 'manual' });
      navigate(`/runs/${run.id}`);
    } catch (error) {
      notice.textContent = error.message;
      runNowButton.disabled = false;
    }
  }

  let running = null;
  async function testRun() {
    if (!canEdit || running) return;
    let parsedParams;
    try {
      parsedParams = params.value.trim() ? JSON.parse(params.value) : {};
    } catch (error) {
      showErrors([{ field: 'params', message: `not valid JSON: ${error.message}` }]);
      return;
    }
    running = new AbortController();
    const stop = () => running?.abort();
    ctx.cleanup.push(stop);
    stopButton.hidden = false;
    stopButton.onclick = stop;
    testButton.disabled = true;
    const request = { script: editor.value, params: parsedParams, timeout_seconds: Number(timeout.value) || undefined };
    if (job) request.job = String(job.id);
    try {
      const outcome = await consoleRun(output, request, running.signal);
      if (outcome?.error?.line) editor.setErrors([{ line: outcome.error.line, column: outcome.error.column, message: outcome.error.message }]);
    } finally {
      running = null;
      stopButton.hidden = true;
      testButton.disabled = false;
    }
  }
}
