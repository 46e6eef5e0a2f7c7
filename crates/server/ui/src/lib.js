// Small helpers every page uses: the API client (session cookie + CSRF
// header, problem documents as errors), SSE parsing over fetch, the DOM
// builder, formatting of times, durations and statuses, and the line diff.

/** The signed-in user and the CSRF token of their session. */
export const session = { user: null, csrf: null, onExpired: null };

/** A failed API call, carrying the RFC 9457 problem document when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describeProblem(status, problem));
    this.status = status;
    this.problem = problem || {};
  }
  /** Field errors of a validation problem: `[{field, message, line?, column?}]`. */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

function describeProblem(status, problem) {
  if (problem && typeof problem === 'object') {
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    const fields = errors.map((e) => `${e.field ?? e.pointer ?? ''}: ${e.message ?? e.detail ?? ''}`).join('; ');
    const detail = problem.detail || problem.title;
    // One field's problem already says it in its detail: say it once.
    return (fields && fields !== detail ? [detail, fields] : [detail || fields]).filter(Boolean).join(' — ') || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

/** Calls `/api/v1{path}`; resolves to the JSON body (null for 204), or throws ApiError. */
export async function api(method, path, body, { signal, raw = false, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { detail: 'The server cannot be reached.' });
  }
  if (raw && response.ok) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    // The session ended (expired, deleted elsewhere): back to the sign-in form.
    if (response.status === 401 && path !== '/session' && session.user) {
      session.user = null;
      session.onExpired?.();
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

/** The events of a `text/event-stream` response: `{event, data, id}`. */
export async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (;;) {
      const end = buffer.search(/\r?\n\r?\n/);
      if (end < 0) break;
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      let id = null;
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
      }
      if (data.length) yield { event, data: data.join('\n'), id };
    }
  }
}

const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);

/** `h('button', {class: 'x', onClick: f}, 'Save')`: an element with attributes, listeners and children. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else if (key === 'ref') value(el);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** SVG elements, same signature as `h`. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value != null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces `el`'s children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** `1 ms`, `2.5 s`, `3 min 4 s`, `2 h 5 min`. */
export function fmtDuration(ms) {
  if (ms == null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The zone times are shown in: `shown` null means the browser's (pages with a job may switch to its zone). */
export const zones = { shown: null };

/** The browser's IANA zone. */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** The zone `fmtTime` uses now. */
export const shownZone = () => zones.shown ?? browserZone();

/** An instant in the viewer's locale, in the shown zone, labelled with that zone (`GMT+1`, `EST`). */
export function fmtTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const options = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' };
  try {
    return d.toLocaleString(undefined, { ...options, timeZone: shownZone() });
  } catch {
    // A zone this browser does not know: its own zone, still labelled.
    return d.toLocaleString(undefined, options);
  }
}

/** `in 5 min`, `3 h ago`, … relative to now. */
export function fmtRelative(ts, now = Date.now()) {
  if (!ts) return '—';
  const diff = new Date(ts).getTime() - now;
  const abs = Math.abs(diff);
  const units = [
    ['day', 86400000],
    ['hour', 3600000],
    ['minute', 60000],
    ['second', 1000],
  ];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
  for (const [unit, size] of units) {
    if (abs >= size || unit === 'second') return rtf.format(Math.round(diff / size), unit);
  }
  return ts;
}

/** A `<time>` showing the relative form with the exact instant on hover. */
export function timeEl(ts, relative = true) {
  if (!ts) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: ts, title: `${fmtTime(ts)} (${ts})` }, relative ? fmtRelative(ts) : fmtTime(ts));
}

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'skipped', 'missed'];
export const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'skipped', 'missed']);

export function statusLabel(status) {
  return status ? status.replace(/_/g, ' ') : 'never run';
}

export function badge(status) {
  return h('span', { class: `badge s-${status || 'none'}` }, statusLabel(status));
}

/** A collapsible tree of a JSON value. */
export function jsonTree(value, label = null, open = true) {
  const key = label == null ? null : h('span', { class: 'json-key' }, `${label}: `);
  if (value === null || typeof value !== 'object') {
    const cls = value === null ? 'null' : typeof value;
    return h('div', { class: 'json-leaf' }, key, h('span', { class: `json-${cls}` }, JSON.stringify(value)));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = Array.isArray(value) ? `Array(${entries.length})` : `{${entries.length} key${entries.length === 1 ? '' : 's'}}`;
  return h(
    'details',
    { class: 'json-node', open },
    h('summary', null, key, h('span', { class: 'muted' }, summary)),
    entries.map(([k, v]) => jsonTree(v, k, false)),
  );
}

/**
 * A line diff of `a` and `b` (longest common subsequence): rows of
 * `{left, right, type}` for a side-by-side view, `type` being `same`,
 * `changed`, `removed` or `added`; `left`/`right` are `{n, text}` or null.
 */
export function diffLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  // Trim the common head and tail first: most edits are small.
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const n = xs.length;
  const m = ys.length;
  const ops = [];
  if (n * m > 25_000_000) {
    // Too large to align: show it all as replaced rather than hang the tab.
    xs.forEach((_, i) => ops.push(['del', i]));
    ys.forEach((_, j) => ops.push(['add', j]));
  } else {
    const lcs = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * (m + 1) + j] =
          xs[i] === ys[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && xs[i] === ys[j]) ops.push(['same', i++, j++]);
      else if (j < m && (i === n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j])) ops.push(['add', j++]);
      else ops.push(['del', i++]);
    }
  }
  const rows = [];
  for (let k = 0; k < head; k++) rows.push({ type: 'same', left: { n: k + 1, text: x[k] }, right: { n: k + 1, text: y[k] } });
  let dels = [];
  let adds = [];
  const flush = () => {
    for (let k = 0; k < Math.max(dels.length, adds.length); k++) {
      const left = dels[k] ?? null;
      const right = adds[k] ?? null;
      rows.push({ type: left && right ? 'changed' : left ? 'removed' : 'added', left, right });
    }
    dels = [];
    adds = [];
  };
  for (const op of ops) {
    if (op[0] === 'del') dels.push({ n: head + op[1] + 1, text: xs[op[1]] });
    else if (op[0] === 'add') adds.push({ n: head + op[1] + 1, text: ys[op[1]] });
    else {
      flush();
      rows.push({ type: 'same', left: { n: head + op[1] + 1, text: xs[op[1]] }, right: { n: head + op[2] + 1, text: ys[op[2]] } });
    }
  }
  flush();
  for (let k = tail; k > 0; k--) {
    rows.push({ type: 'same', left: { n: x.length - k + 1, text: x[x.length - k] }, right: { n: y.length - k + 1, text: y[y.length - k] } });
  }
  return rows;
}
