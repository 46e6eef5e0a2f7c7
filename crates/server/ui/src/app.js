// Clockwork's browser app: the shell (header, navigation, sign-in, sign-out)
// and the client-side router (History API) that hands each path to its page.
// Pages get a `ctx` whose `signal` aborts their requests, whose `cleanup`
// list runs when the user navigates away (live streams, timers), and whose
// `unsaved()` a page with a form sets: leaving (a link, Back, a reload,
// signing out) then asks first. Each route change names the tab after the
// page's heading and moves focus to `main`, so screen readers start there.

import { api, ApiError, h, fill, session, svg } from './lib.js';
import { errorBanner } from './components.js';
import { jobsPage } from './jobs.js';
import { jobPage } from './job.js';
import { editorPage } from './edit.js';
import { runPage } from './run.js';
import { consolePage } from './console.js';
import { settingsPage } from './settings.js';

const ROUTES = [
  [/^\/(?:jobs\/?)?$/, jobsPage],
  [/^\/jobs\/new$/, editorPage],
  [/^\/jobs\/([^/]+)\/edit$/, editorPage],
  [/^\/jobs\/([^/]+)$/, jobPage],
  [/^\/runs\/(\d+)$/, runPage],
  [/^\/console$/, consolePage],
  [/^\/settings(?:\/([a-z]+))?$/, settingsPage],
];

const root = document.getElementById('app');
let current = null;

/** Goes to `path` inside the app (no reload), unless the page has unsaved edits the user keeps. */
export function navigate(path, { replace = false } = {}) {
  if (!mayLeave()) return false;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
  return true;
}

/** True when the current page has nothing unsaved, or the user agrees to lose it. */
export function mayLeave() {
  if (!current?.unsaved?.()) return true;
  return confirm('You have unsaved changes. Leave this page and lose them?');
}

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanup) {
    try {
      fn();
    } catch (error) {
      console.error(error);
    }
  }
  current = null;
}

async function render() {
  leave();
  if (!session.user) {
    signInPage();
    return;
  }
  const path = location.pathname;
  const route = ROUTES.find(([re]) => re.test(path));
  const main = h('main', { id: 'main', tabindex: '-1' });
  fill(root, header(path), main);
  const ctx = { controller: new AbortController(), cleanup: [], unsaved: null, path: location.pathname + location.search };
  ctx.signal = ctx.controller.signal;
  current = ctx;
  document.title = 'Clockwork';
  if (!route) {
    fill(main, h('h1', null, 'Not found'), h('p', null, 'Nothing lives at this address. ', h('a', { href: '/' }, 'Back to the jobs')));
    arrived(main, ctx);
    return;
  }
  const match = path.match(route[0]);
  // Focus and title as soon as the heading is there, not when the page's
  // last request ends.
  const headed = new MutationObserver(() => main.querySelector('h1') && arrived(main, ctx));
  headed.observe(main, { childList: true, subtree: true });
  try {
    await route[1](main, ctx, ...match.slice(1).map((p) => (p == null ? p : decodeURIComponent(p))));
  } catch (error) {
    if (error.name === 'AbortError' || ctx.signal.aborted) return;
    console.error(error);
    const banner = errorBanner();
    banner.show(error);
    fill(main, h('h1', null, 'Something went wrong'), banner.el);
  } finally {
    headed.disconnect();
  }
  if (current === ctx) arrived(main, ctx);
}

/** Names the tab after the page's heading and puts focus at the page's start (once per page). */
function arrived(main, ctx) {
  if (ctx.arrived || current !== ctx) return;
  ctx.arrived = true;
  const heading = main.querySelector('h1')?.textContent.trim();
  document.title = heading ? `${heading} · Clockwork` : 'Clockwork';
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

/** A clock face (no emoji font needed). */
function logo() {
  return svg(
    'svg',
    { class: 'logo', viewBox: '0 0 24 24', width: 20, height: 20, 'aria-hidden': 'true' },
    svg('circle', { cx: 12, cy: 12, r: 10, fill: 'none', stroke: 'currentColor', 'stroke-width': 2 }),
    svg('path', { d: 'M12 6v6l4 2', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round' }),
  );
}

function header(path) {
  const link = (href, label, active) => h('a', { href, 'aria-current': active ? 'page' : null }, label);
  const role = session.user.role;
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/' }, logo(), 'Clockwork'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      link('/', 'Jobs', path === '/' || path.startsWith('/jobs') || path.startsWith('/runs')),
      role !== 'viewer' && link('/console', 'Console', path === '/console'),
      role !== 'viewer' && link('/settings', 'Settings', path.startsWith('/settings')),
    ),
    h(
      'div',
      { class: 'who' },
      h('span', { class: 'user', title: `Signed in as ${session.user.name} (${role})` }, session.user.name, ' ', h('span', { class: 'role' }, role)),
      h('button', { type: 'button', class: 'ghost', onClick: signOut }, 'Sign out'),
    ),
  );
}

async function signOut() {
  if (!mayLeave()) return;
  try {
    await api('DELETE', '/session');
  } catch (error) {
    // Signed out on this side whatever the server says: the cookie may already be gone.
    console.warn(error);
  }
  session.user = null;
  session.csrf = null;
  render();
}

function signInPage() {
  let mode = 'password';
  const message = errorBanner();
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' });
  const draw = () => {
    const fields =
      mode === 'password'
        ? [
            h('label', null, 'Username', h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true })),
            h('label', null, 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
          ]
        : [h('label', null, 'API token', h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true, autofocus: true }))];
    fill(
      form,
      h('h1', { id: 'signin-title' }, logo(), 'Sign in to Clockwork'),
      fields,
      message.el,
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onClick: () => {
            mode = mode === 'password' ? 'token' : 'password';
            message.hide();
            draw();
          },
        },
        mode === 'password' ? 'Use an API token instead' : 'Use a username and password instead',
      ),
    );
    form.querySelector('input')?.focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const body = mode === 'password' ? { username: data.username, password: data.password } : { token: data.token.trim() };
      const answer = await api('POST', '/session', body);
      session.user = answer.user;
      session.csrf = answer.csrf_token;
      render();
    } catch (error) {
      message.show(
        error instanceof ApiError && error.status === 401
          ? mode === 'password'
            ? 'Wrong username or password.'
            : 'That token is not valid.'
          : error,
      );
      button.disabled = false;
    }
  });
  draw();
  fill(root, h('main', { id: 'main', class: 'center' }, form));
}

// Links inside the app navigate without a reload.
document.addEventListener('click', (event) => {
  const a = event.target.closest?.('a[href]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (a.origin !== location.origin || a.target || a.hasAttribute('download') || a.pathname.startsWith('/api/')) return;
  event.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search);
});
window.addEventListener('popstate', () => {
  // Back/Forward already changed the address: put it back when the user stays.
  if (current && !mayLeave()) {
    history.pushState(null, '', current.path);
    return;
  }
  render();
});
window.addEventListener('beforeunload', (event) => {
  if (current?.unsaved?.()) event.preventDefault();
});
session.onExpired = render;

async function start() {
  try {
    const answer = await api('GET', '/session');
    session.user = answer.user;
    session.csrf = answer.csrf_token;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) console.warn(error);
  }
  render();
}
start();
