// The script editor: CodeMirror 6 with JavaScript highlighting, line
// numbers, bracket matching, search, completion of the Forge API names and
// error markers at the line/column the server reports; hovering a Forge API
// name shows its signature and what it does; "Format document"
// (Shift+Alt+F) reformats the script with prettier, itself a chunk loaded
// the first time. Loaded lazily (its own chunk) by the pages that edit
// scripts, so the jobs page stays light.

import { basicSetup } from 'codemirror';
import { EditorView, hoverTooltip, keymap } from '@codemirror/view';
import { EditorState, Prec } from '@codemirror/state';
import { isolateHistory } from '@codemirror/commands';
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { oneDark } from '@codemirror/theme-one-dark';

// The script API's names (FORGE-API.md), offered as completions wherever a
// dotted name is being typed.
const FORGE_NAMES = [
  ['api.asApp().requestJira(route`/rest/api/3/`)', 'Jira request as the app'],
  ['api.asApp().requestConfluence(route`/wiki/api/v2/`)', 'Confluence request as the app'],
  ['api.asUser().requestJira(route`/rest/api/3/`)', 'Jira request as the run-as user'],
  ['api.asUser().requestConfluence(route`/wiki/api/v2/`)', 'Confluence request as the run-as user'],
  ['api.asApp().requestBitbucket', 'Bitbucket request as the app'],
  ['api.fetch', 'fetch through the allow-list'],
  ['route``', 'safe route template'],
  ['assumeTrustedRoute', 'route from a trusted string'],
  ['routeFromAbsolute', 'route from an absolute URL'],
  ['fetch', 'outbound HTTP'],
  ['authorize', 'user authorisation (no user in scheduled runs)'],
  ['storage.get', 'read a stored value'],
  ['storage.set', 'store a value'],
  ['storage.delete', 'delete a stored value'],
  ['storage.getSecret', 'read a secret'],
  ['storage.setSecret', 'store a secret'],
  ['storage.deleteSecret', 'delete a secret'],
  ['storage.query', 'query stored keys'],
  ['kvs.get', 'read a stored value'],
  ['kvs.set', 'store a value'],
  ['kvs.delete', 'delete a stored value'],
  ['kvs.query', 'query stored keys'],
  ['startsWith', 'key prefix condition'],
  ['WhereConditions', 'query conditions'],
  ['new Queue({ key: "" })', 'an async event queue'],
  ['InvocationError', 'fail the run on purpose'],
  ['context.params', 'the run parameters'],
  ['context.job', 'id, name, version'],
  ['context.run', 'id, attempt, trigger, scheduledFor'],
  ['context.state', "a chain's saved state"],
  ['context.remainingTimeMs()', 'time left before the timeout'],
  ['context.continueWith(state, { delaySeconds: 0 })', 'continue as a chain'],
  ['console.log', 'log a line'],
  ['console.warn', 'log a warning'],
  ['console.error', 'log an error'],
].map(([label, detail]) => ({
  label,
  detail,
  type: 'function',
  // Looked up when shown (FORGE_DOCS is defined below).
  info: () => {
    const doc = forgeDoc(label);
    return doc ? `${doc[1]}\n\n${doc[2]}` : null;
  },
}));

// Signatures and short docs of the Forge API names (FORGE-API.md, in our
// words), shown on hover and beside completions. Keys are the name as
// written after its last dot, or with its object for common words.
const FORGE_DOCS = {
  requestJira: ['requestJira(route, init?) → Promise<Response>', "A request to the Jira site's REST API; the path must come from route``. A non-2xx status does not throw: check res.ok / res.status."],
  requestConfluence: ['requestConfluence(route, init?) → Promise<Response>', 'A request to the Confluence site (/wiki/api/v2/…, /wiki/rest/api/…); a non-2xx status does not throw.'],
  requestBitbucket: ['requestBitbucket(route, init?) → Promise<Response>', 'A request to Bitbucket.'],
  asApp: ['api.asApp() → { requestJira, requestConfluence, requestBitbucket }', "Requests authenticated with the site's app credential."],
  asUser: ['api.asUser(accountId?) → { requestJira, requestConfluence, … }', "Requests as the job's run-as user credential."],
  route: ['route`/path/${value}` → Route', 'A safe route: interpolated values are URL-encoded so they cannot change the path.'],
  assumeTrustedRoute: ['assumeTrustedRoute(path: string) → Route', 'A route from a string you trust as it is (no encoding).'],
  routeFromAbsolute: ['routeFromAbsolute(url: string) → Route', 'A route from an absolute URL of the configured site.'],
  fetch: ['fetch(url, init?) → Promise<Response>', 'Outbound HTTP through the egress allow-list; no Content-Type is added.'],
  authorize: ['authorize() → …', 'User authorisation checks: scheduled runs have no user.'],
  'storage.get': ['storage.get(key) → Promise<value | undefined>', 'Reads a stored value (the key-value store shared by jobs).'],
  'storage.set': ['storage.set(key, value) → Promise<void>', 'Stores a JSON value under key.'],
  'storage.delete': ['storage.delete(key) → Promise<void>', 'Deletes a stored value.'],
  'storage.getSecret': ['storage.getSecret(key) → Promise<value | undefined>', 'Reads a secret (never shown in the UI; masked in logs).'],
  'storage.setSecret': ['storage.setSecret(key, value) → Promise<void>', 'Stores a secret.'],
  'storage.deleteSecret': ['storage.deleteSecret(key) → Promise<void>', 'Deletes a secret.'],
  'storage.query': ['storage.query().where(…).limit(n).getMany() → Promise<{ results, nextCursor }>', 'Lists stored keys, e.g. where("key", startsWith("prefix")).'],
  'kvs.get': ['kvs.get(key) → Promise<value | undefined>', 'Reads a stored value (@forge/kvs).'],
  'kvs.set': ['kvs.set(key, value) → Promise<void>', 'Stores a JSON value (@forge/kvs).'],
  'kvs.delete': ['kvs.delete(key) → Promise<void>', 'Deletes a stored value (@forge/kvs).'],
  'kvs.query': ['kvs.query() → query builder', 'Lists stored keys (@forge/kvs).'],
  startsWith: ['startsWith(prefix) → condition', 'A key-prefix condition for storage queries.'],
  Queue: ['new Queue({ key }) → Queue', 'An @forge/events queue: push(events) makes event runs of the job consuming key.'],
  InvocationError: ['InvocationError', 'Throw it to fail the run on purpose.'],
  'context.params': ['context.params: object', "This run's parameters: the job's, or a manual run's own."],
  'context.job': ['context.job: { id, name, version }', 'The job this run belongs to.'],
  'context.run': ['context.run: { id, attempt, trigger, scheduledFor }', 'This run.'],
  'context.state': ['context.state', "A chain's saved state (undefined in its first run)."],
  remainingTimeMs: ['context.remainingTimeMs() → number', 'Milliseconds left before the timeout.'],
  continueWith: ['context.continueWith(state, { delaySeconds }) → void', 'Ends this run and continues the job as a chain with state.'],
  'console.log': ['console.log(...values)', 'Logs an info line.'],
  'console.warn': ['console.warn(...values)', 'Logs a warning.'],
  'console.error': ['console.error(...values)', 'Logs an error line.'],
};

/** The FORGE_DOCS entry for a dotted name as written (`api.asApp().requestJira`), or null. */
export function forgeDoc(written) {
  // Template literals and call arguments say nothing about which name it is.
  const parts = written
    .replace(/`[^`]*`/g, '')
    .replace(/\([^()]*\)/g, '')
    .split('.')
    .filter(Boolean);
  for (let take = Math.min(2, parts.length); take >= 1; take--) {
    const key = parts.slice(-take).join('.');
    if (Object.hasOwn(FORGE_DOCS, key)) return [key, ...FORGE_DOCS[key]];
  }
  return null;
}

/** Hovering a Forge API name: its signature and what it does. */
const forgeHover = hoverTooltip((view, pos) => {
  const line = view.state.doc.lineAt(pos);
  const text = line.text;
  let from = pos - line.from;
  let to = from;
  while (from > 0 && /[\w$.()]/.test(text[from - 1])) from--;
  while (to < text.length && /[\w$]/.test(text[to])) to++;
  if (from === to) return null;
  const doc = forgeDoc(text.slice(from, to));
  if (!doc) return null;
  return {
    pos: line.from + from,
    end: line.from + to,
    above: true,
    create() {
      const dom = document.createElement('div');
      dom.className = 'forge-doc';
      const signature = document.createElement('code');
      signature.textContent = doc[1];
      const about = document.createElement('p');
      about.textContent = doc[2];
      dom.append(signature, about);
      return { dom };
    },
  };
});

function forgeCompletions(context) {
  const word = context.matchBefore(/[\w$.()]+/);
  if (!word || (word.from === word.to && !context.explicit)) return null;
  return { from: word.from, options: FORGE_NAMES, validFor: /^[\w$.()]*$/ };
}

function dark() {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

/** The shortcut of "Format document": as CodeMirror binds it and as people read it. */
export const FORMAT_KEY = { codemirror: 'Shift-Alt-f', label: 'Shift+Alt+F' };

/** What a page says when "Format document" could not format: `{message, line?, column?}`. */
export function formatFailure({ message, line, column }) {
  return `Cannot format: ${message}${line ? ` (line ${line}, column ${column})` : ''}. The script is unchanged.`;
}

/**
 * Reformats the script in `view` as `language` in one transaction of its
 * own (a single undo step), keeping the cursor on the same code. Resolves
 * to `{ ok: true }`, or `{ error: { message, line, column } }` with the
 * text left as it was when it does not parse.
 */
async function formatView(view, language) {
  const { formatScript, FormatError } = await import('./format.js');
  const before = view.state;
  let result;
  try {
    result = await formatScript(before.doc.toString(), language, before.selection.main.head);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    return { error: { message: error.message, line: error.line, column: error.column } };
  }
  // Edits made while prettier ran win: formatting stale text would lose them.
  if (view.state.doc !== before.doc) return { error: { message: 'the script changed while it was being formatted; format it again' } };
  if (result.text !== before.doc.toString()) {
    view.dispatch({
      changes: { from: 0, to: before.doc.length, insert: result.text },
      selection: { anchor: Math.min(result.cursor, result.text.length) },
      annotations: isolateHistory.of('full'),
      scrollIntoView: true,
      userEvent: 'format',
    });
  }
  return { ok: true };
}

/**
 * An editor in `parent` holding `doc`; `label` is its accessible name.
 * `onSave`/`onRun` are bound to Ctrl/Cmd+S and Ctrl/Cmd+Enter; Shift+Alt+F
 * formats the script as `language()` says (`javascript` or `typescript`)
 * and hands the outcome of `format()` to `onFormat`.
 */
export function createEditor(
  parent,
  { doc = '', label = 'Script', onSave, onRun, onChange, onFormat, language = () => 'javascript', readOnly = false } = {},
) {
  let view;
  let formatting = null;
  /** Formats the script (one at a time); resolves to what `formatView` says, also given to `onFormat`. */
  const format = () => {
    if (readOnly) return Promise.resolve({ ok: false });
    formatting ??= formatView(view, language())
      .catch((error) => ({ error: { message: `the formatter could not be loaded: ${error.message}` } }))
      .then((outcome) => {
        formatting = null;
        if (outcome.error?.line) setErrors([{ ...outcome.error, message: `Cannot format: ${outcome.error.message}` }]);
        onFormat?.(outcome);
        return outcome;
      });
    return formatting;
  };
  view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(
          keymap.of([
            { key: 'Mod-s', preventDefault: true, run: () => (onSave?.(), true) },
            { key: 'Mod-Enter', preventDefault: true, run: () => (onRun?.(), true) },
            { key: FORMAT_KEY.codemirror, preventDefault: true, run: () => (format(), true) },
          ]),
        ),
        basicSetup,
        javascript(),
        javascriptLanguage.data.of({ autocomplete: forgeCompletions }),
        forgeHover,
        lintGutter(),
        dark() ? oneDark : [],
        EditorState.readOnly.of(readOnly),
        EditorView.contentAttributes.of({ 'aria-label': label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) {
            // An edit makes the server's old markers meaningless.
            update.view.dispatch(setDiagnostics(update.state, []));
            onChange?.(update.state.doc.toString());
          }
        }),
      ],
    }),
  });
  return {
    view,
    get value() {
      return view.state.doc.toString();
    },
    set value(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Markers for `[{line, column, message}]` (1-based, as the server reports). */
    setErrors,
    format,
    focus() {
      view.focus();
    },
  };

  function setErrors(errors) {
    const text = view.state.doc;
    const diagnostics = errors.map(({ line, column, message }) => {
      const l = text.line(Math.min(Math.max(line || 1, 1), text.lines));
      const from = Math.min(l.from + Math.max((column || 1) - 1, 0), l.to);
      return { from, to: Math.max(from, Math.min(from + 1, l.to)), severity: 'error', message };
    });
    view.dispatch(setDiagnostics(view.state, diagnostics));
  }
}
