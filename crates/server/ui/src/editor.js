// The script editor: CodeMirror 6 with JavaScript highlighting, line
// numbers, bracket matching, search, completion of the Forge API names and
// error markers at the line/column the server reports. Loaded lazily (its
// own chunk) by the pages that edit scripts, so the jobs page stays light.

import { basicSetup } from 'codemirror';
import { EditorView, keymap } from '@codemirror/view';
import { EditorState, Prec } from '@codemirror/state';
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
].map(([label, detail]) => ({ label, detail, type: 'function' }));

function forgeCompletions(context) {
  const word = context.matchBefore(/[\w$.()]+/);
  if (!word || (word.from === word.to && !context.explicit)) return null;
  return { from: word.from, options: FORGE_NAMES, validFor: /^[\w$.()]*$/ };
}

function dark() {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

/**
 * An editor in `parent` holding `doc`; `label` is its accessible name.
 * `onSave`/`onRun` are bound to Ctrl/Cmd+S and Ctrl/Cmd+Enter.
 */
export function createEditor(parent, { doc = '', label = 'Script', onSave, onRun, onChange, readOnly = false } = {}) {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(
          keymap.of([
            { key: 'Mod-s', preventDefault: true, run: () => (onSave?.(), true) },
            { key: 'Mod-Enter', preventDefault: true, run: () => (onRun?.(), true) },
          ]),
        ),
        basicSetup,
        javascript(),
        javascriptLanguage.data.of({ autocomplete: forgeCompletions }),
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
    setErrors(errors) {
      const doc = view.state.doc;
      const diagnostics = errors.map(({ line, column, message }) => {
        const l = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
        const from = Math.min(l.from + Math.max((column || 1) - 1, 0), l.to);
        return { from, to: Math.max(from, Math.min(from + 1, l.to)), severity: 'error', message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    focus() {
      view.focus();
    },
  };
}
