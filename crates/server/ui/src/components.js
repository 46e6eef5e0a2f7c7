// The pieces every page builds with: labelled fields with a hint and an
// error line of their own, forms that submit through the API, tables,
// buttons that run an action, and the one error banner.

import { ApiError, browserZone, h, zones } from './lib.js';

/**
 * The error banner (`role=alert`): hidden until `show(error)`. Field errors
 * of a problem document are listed under its message, once each.
 */
export function errorBanner() {
  const el = h('div', { role: 'alert', class: 'error banner', hidden: true });
  return {
    el,
    /** Shows an error (an `Error`, an `ApiError` or a string) under `lead` when given. */
    show(error, lead = null) {
      const fields = error instanceof ApiError ? error.fieldErrors : [];
      const headline = typeof error === 'string' ? error : fields.length === 1 ? fieldText(fields[0]) : error instanceof ApiError ? error.problem.detail || error.message : error.message;
      el.replaceChildren(
        ...[
          lead && h('p', null, lead),
          fields.length > 1 ? h('ul', null, fields.map((e) => h('li', null, fieldText(e)))) : h('p', null, headline),
        ].filter(Boolean),
      );
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

const position = (e) => (e.line ? ` (line ${e.line}${e.column ? `, column ${e.column}` : ''})` : '');
/** `name: must not be empty`, or the message alone for the whole body. */
const fieldText = (e) => `${e.field && e.field !== '.' ? `${e.field}: ` : ''}${e.message}${position(e)}`;

let ids = 0;

/**
 * A labelled field: `control`, an optional hint under it (text or an
 * element), and an error line that `setFieldError` fills. The control is
 * described by both.
 */
export function field(label, control, hint = null) {
  control.id ||= `f-${++ids}`;
  const hintEl = typeof hint === 'string' ? h('p', { class: 'hint' }, hint) : hint;
  if (hintEl) hintEl.id ||= `${control.id}-hint`;
  const error = h('p', { class: 'field-error', id: `${control.id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl?.id, error.id].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl, error);
}

/** Shows `message` under `control`'s field (or clears it with null). */
export function setFieldError(control, message) {
  const error = document.getElementById(`${control.id}-error`);
  if (!error) return false;
  error.textContent = message ? message : '';
  error.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
  return true;
}

/** A text input. */
export const text = (name, props = {}) => h('input', { name, autocomplete: 'off', ...props });

/** A select of `options` (strings, or `[value, label]` pairs). */
export const choice = (name, options, value, props = {}) =>
  h(
    'select',
    { name, ...props },
    options.map((o) => {
      const [v, t] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, t);
    }),
  );

/**
 * A form whose submit runs `fn(data, form)` with its button disabled
 * meanwhile; errors go to the form's own banner, field errors beside their
 * fields (matched by the controls' `name`).
 */
export function form(label, fields, submitLabel, fn) {
  const banner = errorBanner();
  const el = h(
    'form',
    { class: 'card inline-form', 'aria-label': label },
    fields,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, submitLabel)),
    banner.el,
  );
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = el.querySelector('button[type=submit]');
    button.disabled = true;
    banner.hide();
    for (const control of el.elements) if (control.name) setFieldError(control, null);
    try {
      await fn(Object.fromEntries(new FormData(el)), el);
    } catch (error) {
      const fieldErrors = error instanceof ApiError ? error.fieldErrors : [];
      for (const e of fieldErrors) {
        const control = el.elements[e.field];
        if (control instanceof Element) setFieldError(control, e.message);
      }
      banner.show(error);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/** A table named `label` with column headers; `rows` are its rows (`empty` when none) or a `tbody` the caller fills. */
export function table(label, headers, rows, empty = 'Nothing yet.', props = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'aria-label': label, ...props },
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
      rows instanceof Element ? rows : h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, empty))),
    ),
  );
}

/** A button that runs `fn`, disabled while it runs; a failure shows in `banner`. */
export function actionButton(label, fn, banner, cls = 'small') {
  return h(
    'button',
    {
      type: 'button',
      class: cls,
      onClick: async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        banner.hide();
        try {
          await fn(button);
        } catch (error) {
          if (error.name !== 'AbortError') banner.show(error);
        } finally {
          button.disabled = false;
        }
      },
    },
    label,
  );
}

/**
 * A modal dialog (`<dialog>`, focus kept inside, Escape closes) titled
 * `title` holding `body`; `submitLabel`'s button runs `fn()`, which closes
 * it by resolving and keeps it open, its error shown inside, by throwing.
 * Resolves to what `fn` returned, or null when cancelled.
 */
export function modal(title, body, submitLabel, fn, { danger = false } = {}) {
  const banner = errorBanner();
  const titleId = `dlg-${++ids}`;
  const submit = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submitLabel);
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const formEl = h('form', { method: 'dialog' }, h('h2', { id: titleId }, title), body, banner.el, h('div', { class: 'buttons' }, submit, cancel));
  const dialog = h('dialog', { class: 'modal', 'aria-labelledby': titleId }, formEl);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let outcome = null;
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(outcome);
    });
    cancel.addEventListener('click', () => dialog.close());
    formEl.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      banner.hide();
      try {
        outcome = (await fn()) ?? true;
        dialog.close();
      } catch (error) {
        banner.show(error);
      } finally {
        submit.disabled = false;
      }
    });
    dialog.showModal();
  });
}

const ZONE_KEY = 'clockwork.timeZone';

/**
 * "Times in: your browser's zone | the job's zone" for pages about one job:
 * sets the zone `fmtTime` uses (remembered across pages) and calls
 * `redraw` on a change. Returns the control, or null when the job has no
 * zone of its own; `ctx` puts the browser's zone back when the page goes.
 */
export function zoneSwitch(ctx, jobZone, redraw) {
  ctx.cleanup.push(() => {
    zones.shown = null;
  });
  const mine = browserZone();
  if (!jobZone || jobZone === mine) {
    zones.shown = null;
    return null;
  }
  const wantJob = localStorage.getItem(ZONE_KEY) === 'job';
  zones.shown = wantJob ? jobZone : null;
  const select = choice('zone', [['browser', `your browser's zone (${mine})`], ['job', `the job's zone (${jobZone})`]], wantJob ? 'job' : 'browser', {
    'aria-label': 'Show times in',
    onChange: (e) => {
      const job = e.target.value === 'job';
      localStorage.setItem(ZONE_KEY, job ? 'job' : 'browser');
      zones.shown = job ? jobZone : null;
      redraw();
    },
  });
  return h('label', { class: 'zone-switch' }, 'Times in ', select);
}
