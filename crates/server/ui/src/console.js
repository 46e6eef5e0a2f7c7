// The script console: run an ad hoc script against the configured sites
// and watch its log and result live (nothing is kept in run history).

import { errorBanner } from './components.js';
import { fill, h } from './lib.js';
import { consoleRun } from './output.js';

const EXAMPLE = `// Ad hoc script: runs once, now. Logs and result appear below.
console.log('hello from the console');
return { now: new Date().toISOString() };
`;

export async function consolePage(main, ctx) {
  const editorModule = import('./editor.js');
  const box = h('div', { class: 'editor-box' }, h('p', { class: 'muted' }, 'Loading the editor…'));
  const params = h('textarea', { id: 'console-params', rows: 2, spellcheck: 'false', value: '{}' });
  const timeout = h('input', { id: 'console-timeout', type: 'number', min: 1, max: 86400, value: 60 });
  const job = h('input', { id: 'console-job', placeholder: 'none', autocomplete: 'off' });
  const out = h('section', { class: 'output', 'aria-label': 'Console output' });
  const error = errorBanner();
  const runButton = h('button', { type: 'button', class: 'primary', title: 'Run (Ctrl/Cmd+Enter)', onClick: run }, 'Run');
  const stopButton = h('button', { type: 'button', hidden: true }, 'Stop');
  fill(
    main,
    h('h1', null, 'Console'),
    h('p', { class: 'muted' }, 'Runs a script once against the configured sites, as a job would; nothing is stored in run history.'),
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
    h('div', { class: 'buttons' }, runButton, stopButton),
    out,
  );
  const { createEditor } = await editorModule;
  if (ctx.signal.aborted) return;
  box.replaceChildren();
  const editor = createEditor(box, { doc: sessionStorage.getItem('clockwork.console') ?? EXAMPLE, label: 'Script', onRun: run });
  editor.view.contentDOM.setAttribute('aria-label', 'Script');
  ctx.cleanup.push(() => sessionStorage.setItem('clockwork.console', editor.value));
  editor.focus();

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
