// Live output shared by the run page, the editor's Test run and the
// console: log lines with timestamps and coloured levels, the outcome
// (status, duration, result tree, error with the failing line).

import { errorBanner, table } from './components.js';
import { api, badge, debounce, fill, fmtDuration, h, jsonTree, sseEvents } from './lib.js';

/** Height of one log row in px: fixed, so the list can draw only the rows in view. */
const ROW_PX = 20;
/** Rows drawn above and below the visible ones, so a scroll step shows no gap. */
const OVERSCAN = 30;
const LEVELS = ['debug', 'info', 'warn', 'error'];

/**
 * A log viewer that stays fast at any size: lines live in an array and only
 * the rows in view (plus a margin) are in the DOM, each a fixed height, so
 * 100,000 lines cost what 80 do. It follows the tail while scrolled to the
 * bottom, filters by level and text, and downloads what it holds.
 * `el` is the element to place; `push(lines)` appends; `lines` is the array.
 */
export function logView(label = 'Logs', { tools = false, filename = 'log', follow = true } = {}) {
  const lines = [];
  let shownLines = 0;
  let rows = []; // display rows: {line, text, first}; a multi-line message spans several
  let minLevel = 0;
  let needle = '';
  const spacer = h('div', { class: 'log-spacer' });
  const list = h('ol', { class: 'log-window' });
  const viewport = h('div', { class: 'logs', role: 'log', 'aria-label': label, tabindex: 0 }, spacer, list);
  const empty = h('p', { class: 'muted log-empty' }, 'No log lines yet.');
  const shown = h('span', { class: 'muted', 'aria-live': 'polite' });

  const matches = (line) => LEVELS.indexOf(line.level) >= minLevel && (!needle || line.message.toLowerCase().includes(needle));
  const rowsOf = (line) => String(line.message).split('\n').map((text, i) => ({ line, text, first: i === 0 }));

  let frame = 0;
  let stick = follow;
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  function draw() {
    frame = 0;
    empty.hidden = lines.length > 0;
    spacer.style.height = `${rows.length * ROW_PX}px`;
    viewport.style.setProperty('--rows', String(Math.max(rows.length, 1)));
    if (stick) viewport.scrollTop = viewport.scrollHeight;
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_PX) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((viewport.scrollTop + (viewport.clientHeight || 600)) / ROW_PX) + OVERSCAN);
    list.style.transform = `translateY(${first * ROW_PX}px)`;
    list.replaceChildren(...rows.slice(first, last).map(rowEl));
    if (tools) shown.textContent = needle || minLevel ? `${shownLines} of ${lines.length} lines` : `${lines.length} lines`;
  }
  viewport.addEventListener('scroll', () => {
    stick = viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - ROW_PX;
    schedule();
  });
  const refilter = () => {
    const kept = lines.filter(matches);
    shownLines = kept.length;
    rows = kept.flatMap(rowsOf);
    schedule();
  };

  const toolbar =
    tools &&
    h(
      'div',
      { class: 'filters log-tools' },
      h(
        'label',
        null,
        'Level',
        h(
          'select',
          { onChange: (e) => ((minLevel = Number(e.target.value)), refilter()) },
          LEVELS.map((l, i) => h('option', { value: i }, i === 0 ? 'all' : `${l} and above`)),
        ),
      ),
      h('label', null, 'Search the log', h('input', { type: 'search', onInput: debounce((e) => ((needle = e.target.value.toLowerCase()), refilter()), 150) })),
      h('button', { type: 'button', onClick: () => download(`${filename}.txt`, 'text/plain', lines.map(plainLine).join('\n') + '\n') }, 'Download .txt'),
      h('button', { type: 'button', onClick: () => download(`${filename}.jsonl`, 'application/x-ndjson', lines.map((l) => JSON.stringify(l)).join('\n') + '\n') }, 'Download .jsonl'),
      shown,
    );

  return {
    el: h('div', { class: 'log-view' }, toolbar, empty, viewport),
    lines,
    /** Appends lines (objects `{seq, ts, level, message}`). */
    push(more) {
      for (const line of more) {
        lines.push(line);
        if (!matches(line)) continue;
        shownLines++;
        for (const row of rowsOf(line)) rows.push(row);
      }
      schedule();
    },
    /** Shows the last line. */
    scrollToEnd() {
      stick = true;
      schedule();
    },
  };
}

function rowEl({ line, text, first }) {
  const ts = first && line.ts ? new Date(line.ts) : null;
  const time = ts && !Number.isNaN(ts.getTime()) ? ts.toISOString().slice(11, 23) : '';
  return h(
    'li',
    { class: `log lvl-${line.level}${first ? '' : ' cont'}` },
    h('time', { datetime: first ? line.ts || '' : null, title: first ? line.ts || '' : null }, time),
    h('span', { class: 'level' }, first ? line.level : ''),
    h('span', { class: 'msg' }, text),
  );
}

const plainLine = (l) => `${l.ts ?? ''} ${String(l.level).toUpperCase().padEnd(5)} ${l.message}`;

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The HTTP calls a run made: method, URL, status, duration, retries, size, error. */
export function httpCallsTable(calls) {
  return table(
    'HTTP calls',
    ['Method', 'URL', 'Status', 'Duration', 'Retries', 'Size', 'Error'],
    calls.map((c) =>
      h(
        'tr',
        null,
        h('td', null, c.method),
        h('td', { class: 'url' }, c.url),
        h('td', { class: c.status >= 400 || c.error ? 'error' : '' }, c.status ?? '—'),
        h('td', { class: 'num' }, fmtDuration(c.duration_ms)),
        h('td', { class: 'num' }, c.retries),
        h('td', { class: 'num' }, c.response_size ?? '—'),
        h('td', null, c.error || ''),
      ),
    ),
  );
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
    // A script's message usually names its kind already (`TypeError: …`).
    h('p', { class: 'error' }, /^\w*(Error|Exception)\b/.test(error.message) ? null : h('strong', null, 'Error: '), error.message, where),
    scriptExcerpt(script, error.line, error.column),
    error.stack && h('details', null, h('summary', null, 'Stack'), h('pre', { class: 'stack' }, error.stack)),
  );
}

/**
 * Runs `script` through `POST /console/run` and shows its log and outcome
 * in `out` as they come. Resolves to the outcome (or null when stopped).
 */
export async function consoleRun(out, request, signal) {
  const logs = logView('Output');
  const status = h('p', { class: 'run-status', role: 'status' }, 'Running…');
  const outcomeBox = h('div', { class: 'outcome' });
  fill(out, status, logs.el, outcomeBox);
  let response;
  try {
    response = await api('POST', '/console/run', request, { signal, raw: true, accept: 'text/event-stream' });
  } catch (error) {
    if (error.name === 'AbortError') {
      status.textContent = 'Stopped.';
      return null;
    }
    status.textContent = '';
    const banner = errorBanner();
    banner.show(error);
    fill(outcomeBox, banner.el);
    return null;
  }
  try {
    for await (const event of sseEvents(response)) {
      if (event.event === 'log') logs.push([JSON.parse(event.data)]);
      else if (event.event === 'outcome') {
        const outcome = JSON.parse(event.data);
        fill(status, badge(outcome.status), ` in ${fmtDuration(outcome.duration_ms)}`, outcome.http_calls != null ? ` · ${Array.isArray(outcome.http_calls) ? outcome.http_calls.length : outcome.http_calls} HTTP call(s)` : '');
        fill(
          outcomeBox,
          outcome.logs_truncated && h('p', { class: 'muted' }, 'The log was truncated.'),
          outcome.error
            ? errorBox(outcome.error, request.script)
            : h('div', { class: 'result' }, h('h3', null, 'Result'), jsonTree(outcome.result ?? null)),
          Array.isArray(outcome.http_calls) && outcome.http_calls.length > 0 && h('div', null, h('h3', null, 'HTTP calls'), httpCallsTable(outcome.http_calls)),
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
