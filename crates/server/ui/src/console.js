// The script console: run an ad hoc script against the configured sites
// and watch its log and result live (nothing is kept in run history). It
// remembers, per user in this browser (localStorage): the script being
// written survives navigation and reloads, and the scripts run last are a
// pick away. "Save as job" opens the new-job editor with the script.

import { navigate } from './app.js';
import { errorBanner } from './components.js';
import { DRAFT_KEY } from './edit.js';
import { debounce, fill, fmtTime, h, session } from './lib.js';
import { consoleRun } from './output.js';

/** Recent scripts kept per user. */
const HISTORY_SIZE = 20;

/** The storage keys of the signed-in user's console, fixed when the page opens (signing out ends the session before the page's cleanup saves). */
const keysOf = (user) => ({ script: `clockwork.console.script.${user}`, history: `clockwork.console.history.${user}` });
let keys = null;

function readHistory() {
  try {
    const list = JSON.parse(localStorage.getItem(keys.history) ?? '[]');
    return Array.isArray(list) ? list.filter((e) => e && typeof e.script === 'string') : [];
  } catch {
    return [];
  }
}

/** Puts `script` first in the history (once), dropping the oldest past HISTORY_SIZE. */
function remember(script) {
  const list = [{ script, at: new Date().toISOString() }, ...readHistory().filter((e) => e.script !== script)].slice(0, HISTORY_SIZE);
  try {
    localStorage.setItem(keys.history, JSON.stringify(list));
  } catch (error) {
    // Storage full or disabled: the console still works, it just forgets.
    console.warn(error);
  }
  return list;
}

function saveDraft(key, script) {
  try {
    localStorage.setItem(key, script);
  } catch (error) {
    console.warn(error);
  }
}

/** How a history entry reads in the picker: its first line that says something, and when it ran. */
function describe(entry) {
  const line = entry.script.split('\n').map((l) => l.trim()).find((l) => l && !/^\/\/\s*$/.test(l)) ?? '(empty)';
  return `${line.length > 60 ? `${line.slice(0, 59)}…` : line} · ${fmtTime(entry.at)}`;
}

const EXAMPLE = `// Ad hoc script: runs once, now. Logs and result appear below.
console.log('hello from the console');
return { now: new Date().toISOString() };
`;

export async function consolePage(main, ctx) {
  keys = keysOf(session.user.name);
  const mine = keys;
  const editorModule = import('./editor.js');
  const box = h('div', { class: 'editor-box' }, h('p', { class: 'muted' }, 'Loading the editor…'));
  const params = h('textarea', { id: 'console-params', rows: 2, spellcheck: 'false', value: '{}' });
  const timeout = h('input', { id: 'console-timeout', type: 'number', min: 1, max: 86400, value: 60 });
  const job = h('input', { id: 'console-job', placeholder: 'none', autocomplete: 'off' });
  const out = h('section', { class: 'output', 'aria-label': 'Console output' });
  const error = errorBanner();
  const runButton = h('button', { type: 'button', class: 'primary', title: 'Run (Ctrl/Cmd+Enter)', onClick: run }, 'Run');
  const stopButton = h('button', { type: 'button', hidden: true }, 'Stop');
  const saveAsJob = h('button', { type: 'button', onClick: () => saveAs() }, 'Save as job');
  let editor = null;
  const formatButton = h('button', { type: 'button', disabled: true, onClick: () => editor?.format() }, 'Format');
  const history = h('select', { id: 'console-history', onChange: (e) => pick(e.target) });
  const drawHistory = (list) =>
    fill(
      history,
      h('option', { value: '' }, list.length ? `${list.length} recent script${list.length === 1 ? '' : 's'}…` : 'none yet'),
      list.map((entry, i) => h('option', { value: String(i) }, describe(entry))),
    );
  drawHistory(readHistory());
  fill(
    main,
    h('h1', null, 'Console'),
    h('p', { class: 'muted' }, 'Runs a script once against the configured sites, as a job would; nothing is stored in run history.'),
    h('div', { class: 'filters console-history' }, h('label', { for: 'console-history' }, 'Recent scripts'), history),
    h('div', { class: 'field' }, h('span', { id: 'console-script-label' }, 'Script'), box),
    h(
      'details',
      { class: 'policies' },
      h('summary', null, 'Options'),
      h(
        'div',
        { class: 'grid3' },
        h('div', { class: 'field' }, h('label', { for: 'console-params' }, 'Params (JSON)'), params),
        h('div', { class: 'field' }, h('label', { for: 'console-timeout' }, 'Timeout (seconds)'), timeout),
        h('div', { class: 'field' }, h('label', { for: 'console-job' }, "Use a job's sites and run-as"), job),
      ),
    ),
    error.el,
    h('div', { class: 'buttons' }, runButton, stopButton, formatButton, saveAsJob),
    out,
  );
  const { createEditor, FORMAT_KEY, formatFailure } = await editorModule;
  if (ctx.signal.aborted) return;
  box.replaceChildren();
  const keep = debounce((text) => saveDraft(mine.script, text), 300);
  editor = createEditor(box, {
    doc: localStorage.getItem(mine.script) ?? EXAMPLE,
    label: 'Script',
    onRun: run,
    onChange: keep,
    // The console sends its scripts as JavaScript (no language field), so they are formatted as such.
    onFormat: (outcome) => (outcome.error ? error.show(formatFailure(outcome.error)) : error.hide()),
  });
  formatButton.disabled = false;
  formatButton.title = `Format document (${FORMAT_KEY.label})`;
  editor.view.contentDOM.setAttribute('aria-label', 'Script');
  // The debounced write may not have happened yet when the user leaves or reloads.
  const flush = () => saveDraft(mine.script, editor.value);
  window.addEventListener('pagehide', flush);
  ctx.cleanup.push(() => {
    window.removeEventListener('pagehide', flush);
    flush();
  });
  editor.focus();

  function pick(select) {
    const entry = readHistory()[Number(select.value)];
    select.value = '';
    if (!entry) return;
    editor.value = entry.script;
    editor.focus();
  }

  function saveAs() {
    let parsed = {};
    try {
      parsed = params.value.trim() ? JSON.parse(params.value) : {};
    } catch {
      // Bad params stay behind; the editor shows its own field for them.
    }
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ script: editor.value, params: parsed }));
    navigate('/jobs/new');
  }

  let running = null;
  async function run() {
    if (running) return;
    error.hide();
    let parsed;
    try {
      parsed = params.value.trim() ? JSON.parse(params.value) : {};
    } catch (e) {
      error.show(`Params is not valid JSON: ${e.message}`);
      return;
    }
    const request = { script: editor.value, params: parsed, timeout_seconds: Number(timeout.value) || undefined };
    drawHistory(remember(editor.value));
    if (job.value.trim()) request.job = job.value.trim();
    running = new AbortController();
    const controller = running;
    ctx.cleanup.push(() => controller.abort());
    stopButton.hidden = false;
    stopButton.onclick = () => controller.abort();
    runButton.disabled = true;
    try {
      const outcome = await consoleRun(out, request, controller.signal);
      if (outcome?.error?.line) editor.setErrors([{ line: outcome.error.line, column: outcome.error.column, message: outcome.error.message }]);
    } finally {
      running = null;
      stopButton.hidden = true;
      runButton.disabled = false;
    }
  }
}
