// Live output shared by the run page, the editor's Test run and the
// console: log lines with timestamps and coloured levels, the outcome
// (status, duration, result tree, error with the failing line).

import { api, badge, fill, fmtDuration, h, jsonTree, sseEvents } from './lib.js';

/** One log line as a list item. */
export function logLine(line) {
  const ts = line.ts ? new Date(line.ts) : null;
  const time = ts && !Number.isNaN(ts.getTime()) ? ts.toISOString().slice(11, 23) : '';
  return h(
    'li',
    { class: `log lvl-${line.level}` },
    h('time', { datetime: line.ts || '', title: line.ts || '' }, time),
    h('span', { class: 'level' }, line.level),
    h('span', { class: 'msg' }, line.message),
  );
}

/** A log list (`role=log`, so screen readers hear new lines). */
export function logList(label = 'Logs') {
  return h('ol', { class: 'logs', role: 'log', 'aria-label': label, 'aria-live': 'polite' });
}

/** Appends a line, keeping the view scrolled to the bottom when it was. */
export function appendLog(list, line) {
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  list.append(logLine(line));
  if (stick) list.scrollTop = list.scrollHeight;
}

/** The script around `line` (1-based), the line itself marked. */
export function scriptExcerpt(script, line, column) {
  if (!script || !line) return null;
  const lines = script.split('\n');
  const from = Math.max(1, line - 2);
  const to = Math.min(lines.length, line + 2);
  const rows = [];
  for (let n = from; n <= to; n++) {
    rows.push(
      h(
        'div',
        { class: n === line ? 'excerpt-line failing' : 'excerpt-line' },
        h('span', { class: 'ln' }, String(n)),
        h('span', null, lines[n - 1]),
      ),
    );
    if (n === line && column) rows.push(h('div', { class: 'excerpt-line caret', 'aria-hidden': 'true' }, h('span', { class: 'ln' }), `${' '.repeat(column - 1)}^`));
  }
  return h('pre', { class: 'excerpt', 'aria-label': `Script around line ${line}` }, rows);
}

/** An error: message, position, the failing line in `script`, stack. */
export function errorBox(error, script) {
  if (!error) return null;
  const where = error.line ? ` (line ${error.line}${error.column ? `, column ${error.column}` : ''})` : '';
  return h(
    'div',
    { class: 'error-box' },
    h('p', { class: 'error' }, h('strong', null, 'Error: '), error.message, where),
    scriptExcerpt(script, error.line, error.column),
    error.stack && h('details', null, h('summary', null, 'Stack'), h('pre', { class: 'stack' }, error.stack)),
  );
}

/**
 * Runs `script` through `POST /console/run` and shows its log and outcome
 * in `out` as they come. Resolves to the outcome (or null when stopped).
 */
export async function consoleRun(out, request, signal) {
  const logs = logList('Output');
  const status = h('p', { class: 'run-status', role: 'status' }, 'Running…');
  const outcomeBox = h('div', { class: 'outcome' });
  fill(out, status, logs, outcomeBox);
  let response;
  try {
    response = await api('POST', '/console/run', request, { signal, raw: true, accept: 'text/event-stream' });
  } catch (error) {
    if (error.name === 'AbortError') {
      status.textContent = 'Stopped.';
      return null;
    }
    status.textContent = '';
    fill(outcomeBox, h('p', { role: 'alert', class: 'error' }, error.message));
    return null;
  }
  try {
    for await (const event of sseEvents(response)) {
      if (event.event === 'log') appendLog(logs, JSON.parse(event.data));
      else if (event.event === 'outcome') {
        const outcome = JSON.parse(event.data);
        fill(status, badge(outcome.status), ` in ${fmtDuration(outcome.duration_ms)}`, outcome.http_calls != null ? ` · ${Array.isArray(outcome.http_calls) ? outcome.http_calls.length : outcome.http_calls} HTTP call(s)` : '');
        fill(
          outcomeBox,
          outcome.logs_truncated && h('p', { class: 'muted' }, 'The log was truncated.'),
          outcome.error
            ? errorBox(outcome.error, request.script)
            : h('div', { class: 'result' }, h('h3', null, 'Result'), jsonTree(outcome.result ?? null)),
        );
        return outcome;
      }
    }
    status.textContent = 'The stream ended without an outcome.';
  } catch (error) {
    if (error.name === 'AbortError' || signal?.aborted) status.textContent = 'Stopped.';
    else status.textContent = `The stream broke: ${error.message}`;
  }
  return null;
}
