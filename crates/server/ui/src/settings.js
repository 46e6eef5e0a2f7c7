// Settings: sites and their credentials (secrets write-only), notification
// channels with "Send test", API tokens (shown once on creation; revoke),
// users and the audit log (admin only) and the key-value storage browser
// (editors too).

import { actionButton, choice, errorBanner, field, form, table, text } from './components.js';
import { api, fill, fmtTime, h, session, timeEl } from './lib.js';

/** What a channel can be told about (store::AlertEvent), all wanted by default. */
const ALERT_EVENTS = [
  ['failed', 'Failed'],
  ['timed_out', 'Timed out'],
  ['interrupted', 'Interrupted'],
  ['missed', 'Missed'],
  ['recovered', 'Recovered'],
];

const SECTIONS = [
  ['sites', 'Sites', 'admin'],
  ['channels', 'Channels', 'admin'],
  ['tokens', 'Tokens', 'admin'],
  ['users', 'Users', 'admin'],
  ['audit', 'Audit log', 'admin'],
  ['storage', 'Storage', 'editor'],
];

export async function settingsPage(main, ctx, section) {
  const admin = session.user.role === 'admin';
  const visible = SECTIONS.filter(([, , role]) => admin || role === 'editor');
  const current = visible.find(([id]) => id === section) ?? visible[0];
  const box = h('section', { 'aria-labelledby': 'section-title' });
  fill(
    main,
    h('h1', null, 'Settings'),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Settings sections' },
      visible.map(([id, label]) => h('a', { href: `/settings/${id}`, 'aria-current': id === current[0] ? 'page' : null }, label)),
    ),
    box,
  );
  const draw = { sites, channels, tokens, users, audit, storage }[current[0]];
  try {
    await draw(box, ctx);
  } catch (error) {
    if (error.name === 'AbortError') return;
    // The other sections stay reachable when one cannot load.
    const banner = errorBanner();
    banner.show(error);
    fill(box, h('h2', { id: 'section-title' }, current[1]), banner.el);
  }
}

async function sites(box, ctx) {
  const { items } = await api('GET', '/sites', undefined, { signal: ctx.signal });
  const message = errorBanner();
  const reload = () => sites(box, ctx);
  const secret = text('secret', { type: 'password', placeholder: 'API token or password (write-only)' });
  const name = text('name', { required: true });
  const siteForm = form(
    'Site',
    [
      field('Site name', name),
      field('Product', choice('product', ['jira', 'confluence'])),
      field('Base URL', text('base_url', { type: 'url', required: true, placeholder: 'https://example.atlassian.net' })),
      field('Auth', choice('auth', ['basic', 'bearer'])),
      field('Email', text('email', { type: 'email' })),
      field('Secret', secret),
    ],
    'Save site',
    async (data) => {
      const body = { product: data.product, base_url: data.base_url, auth: data.auth };
      if (data.email) body.email = data.email;
      if (data.secret) body.secret = data.secret;
      await api('PUT', `/sites/${encodeURIComponent(data.name)}`, body);
      await reload();
    },
  );
  fill(
    box,
    h('h2', { id: 'section-title' }, 'Sites'),
    h('p', { class: 'muted' }, 'Secrets are write-only: they are stored encrypted and never shown again. Leave Secret empty to keep the current one.'),
    message.el,
    table(
      'Sites',
      ['Name', 'Product', 'Base URL', 'Auth', 'Email', 'Secret', 'Source', ''],
      items.map((s) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, s.name),
          h('td', null, s.product),
          h('td', { class: 'url' }, s.base_url),
          h('td', null, s.auth),
          h('td', null, s.email || '—'),
          h('td', null, s.has_secret ? 'set' : 'none'),
          h('td', null, s.source),
          h(
            'td',
            { class: 'actions' },
            s.source !== 'config' && [
              actionButton(
                'Edit',
                async () => {
                  siteForm.elements.name.value = s.name;
                  siteForm.elements.product.value = s.product;
                  siteForm.elements.base_url.value = s.base_url;
                  siteForm.elements.auth.value = s.auth;
                  siteForm.elements.email.value = s.email || '';
                  secret.value = '';
                  secret.placeholder = s.has_secret ? 'unchanged' : 'API token or password (write-only)';
                  name.focus();
                },
                message,
              ),
              actionButton(
                'Delete',
                async () => {
                  if (!confirm(`Delete site ${s.name}?`)) return;
                  await api('DELETE', `/sites/${encodeURIComponent(s.name)}`);
                  await reload();
                },
                message,
                'small danger',
              ),
            ],
          ),
        ),
      ),
      'No sites yet.',
    ),
    h('h3', null, 'Add or change a site'),
    siteForm,
  );
}

async function channels(box, ctx) {
  const { items } = await api('GET', '/channels', undefined, { signal: ctx.signal });
  const message = errorBanner();
  const testResult = h('p', { role: 'status' });
  const reload = () => channels(box, ctx);
  let editing = null;
  const eventBoxes = h(
    'fieldset',
    { class: 'field checks' },
    h('legend', null, 'Events'),
    ALERT_EVENTS.map(([value, label]) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'events', value, checked: true }), ` ${label}`)),
  );
  const channelForm = form(
    'Channel',
    [
      field('Channel name', text('name', { required: true })),
      field('Kind', choice('kind', ['webhook', 'slack'])),
      field('URL', text('url', { type: 'url', placeholder: 'https://…' })),
      eventBoxes,
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: true }), ' Enabled'),
    ],
    'Save channel',
    async (data) => {
      const body = {
        name: data.name,
        kind: data.kind,
        events: [...eventBoxes.querySelectorAll('input:checked')].map((box) => box.value),
        enabled: data.enabled === 'on',
      };
      // A masked URL read back is not sent again: the stored one stays.
      if (data.url && !data.url.includes('…')) body.url = data.url;
      if (editing === data.name) await api('PUT', `/channels/${encodeURIComponent(data.name)}`, body);
      else await api('POST', '/channels', body);
      await reload();
    },
  );
  fill(
    box,
    h('h2', { id: 'section-title' }, 'Notification channels'),
    message.el,
    testResult,
    table(
      'Channels',
      ['Name', 'Kind', 'URL', 'Events', 'Enabled', ''],
      items.map((c) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, c.name),
          h('td', null, c.kind),
          h('td', { class: 'url' }, c.url),
          h('td', null, (c.events || []).join(', ') || 'all'),
          h('td', null, c.enabled ? 'yes' : 'no'),
          h(
            'td',
            { class: 'actions' },
            actionButton(
              'Send test',
              async () => {
                testResult.textContent = `Sending a test to ${c.name}…`;
                const r = await api('POST', `/channels/${encodeURIComponent(c.name)}/test`);
                testResult.textContent = r.delivered
                  ? `Test delivered to ${c.name} (HTTP ${r.status}).`
                  : `Test to ${c.name} failed: ${r.error || `HTTP ${r.status}`}`;
              },
              message,
            ),
            actionButton(
              'Edit',
              async () => {
                editing = c.name;
                const f = channelForm.elements;
                f.name.value = c.name;
                f.kind.value = c.kind;
                f.url.value = c.url || '';
                const wanted = new Set(c.events?.length ? c.events : ALERT_EVENTS.map(([v]) => v));
                for (const box of eventBoxes.querySelectorAll('input')) box.checked = wanted.has(box.value);
                f.enabled.checked = c.enabled;
              },
              message,
            ),
            actionButton(
              'Delete',
              async () => {
                if (!confirm(`Delete channel ${c.name}?`)) return;
                await api('DELETE', `/channels/${encodeURIComponent(c.name)}`);
                await reload();
              },
              message,
              'small danger',
            ),
          ),
        ),
      ),
      'No channels yet.',
    ),
    h('h3', null, 'Add or change a channel'),
    channelForm,
  );
}

async function tokens(box, ctx, created = null) {
  const { items } = await api('GET', '/tokens', undefined, { signal: ctx.signal });
  const message = errorBanner();
  fill(
    box,
    h('h2', { id: 'section-title' }, 'API tokens'),
    created &&
      h(
        'div',
        { class: 'card secret', role: 'status' },
        h('p', null, `Token ${created.name} created. Copy it now: it is shown only once.`),
        h('input', { readonly: true, value: created.token, 'aria-label': 'New token', onFocus: (e) => e.target.select() }),
        h('button', { type: 'button', class: 'small', onClick: () => navigator.clipboard?.writeText(created.token) }, 'Copy'),
      ),
    message.el,
    table(
      'Tokens',
      ['Name', 'Role', 'Created', 'Last used', 'Revoked', ''],
      items.map((t) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, t.name),
          h('td', null, t.role),
          h('td', null, timeEl(t.created_at)),
          h('td', null, timeEl(t.last_used_at)),
          h('td', null, timeEl(t.revoked_at)),
          h(
            'td',
            { class: 'actions' },
            !t.revoked_at &&
              actionButton(
                'Revoke',
                async () => {
                  if (!confirm(`Revoke token ${t.name}? Programs using it stop working.`)) return;
                  await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
                  await tokens(box, ctx);
                },
                message,
                'small danger',
              ),
          ),
        ),
      ),
      'No tokens.',
    ),
    h('h3', null, 'Create a token'),
    form('Token', [field('Token name', text('name', { required: true })), field('Role', choice('role', ['viewer', 'editor', 'admin'], 'editor'))], 'Create token', async (data) => {
      const answer = await api('POST', '/tokens', { name: data.name, role: data.role });
      await tokens(box, ctx, answer);
    }),
  );
}

/** Entries per page of the audit log. */
const AUDIT_PAGE = 50;

/**
 * The audit log: who changed what and when, newest first, filtered by job
 * and by user (kept in the address, so a filtered view can be linked),
 * a page at a time.
 */
async function audit(box, ctx) {
  const query = new URLSearchParams(location.search);
  const job = text('job', { value: query.get('job') ?? '', placeholder: 'name or id' });
  const actor = text('actor', { value: query.get('actor') ?? '', placeholder: 'user or token name' });
  const message = errorBanner();
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Older entries');
  let cursor = null;
  let rows = [];

  const targetEl = (target) => {
    const [kind, id] = target.split(':');
    if (kind === 'job' && /^\d+$/.test(id)) return h('a', { href: `/jobs/${id}` }, target);
    if (kind === 'run' && /^\d+$/.test(id)) return h('a', { href: `/runs/${id}` }, target);
    return target;
  };
  const row = (e) =>
    h(
      'tr',
      null,
      h('td', null, h('time', { datetime: e.at, title: e.at }, fmtTime(e.at))),
      h('td', null, e.actor),
      h('td', null, h('code', null, e.action)),
      h('td', null, targetEl(e.target)),
      h('td', { class: 'audit-detail' }, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : ''),
    );

  async function load(reset) {
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (job.value.trim()) q.set('job', job.value.trim());
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (!reset && cursor) q.set('cursor', cursor);
    const page = await api('GET', `/audit?${q}`, undefined, { signal: ctx.signal });
    rows = reset ? page.items : rows.concat(page.items);
    cursor = page.next_cursor ?? null;
    more.hidden = !cursor;
    fill(body, rows.length ? rows.map(row) : h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No entries match.')));
  }

  const filters = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter the audit log' },
    h('label', null, 'Job ', job),
    h('label', null, 'User ', actor),
    h('button', { type: 'submit' }, 'Filter'),
  );
  filters.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.hide();
    const q = new URLSearchParams();
    if (job.value.trim()) q.set('job', job.value.trim());
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    history.replaceState(null, '', `/settings/audit${q.size ? `?${q}` : ''}`);
    try {
      await load(true);
    } catch (error) {
      if (error.name !== 'AbortError') message.show(error);
    }
  });
  more.addEventListener('click', () => load(false).catch((error) => message.show(error)));
  fill(
    box,
    h('h2', { id: 'section-title' }, 'Audit log'),
    h('p', { class: 'muted' }, 'Who changed what, and when: job saves, pauses and deletions, runs started and cancelled, sign-ins, users, tokens, sites, channels and storage. Newest first.'),
    filters,
    message.el,
    table('Audit log', ['When', 'Who', 'What', 'On', 'Details'], body),
    more,
  );
  try {
    await load(true);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    message.show(error);
  }
}

async function users(box, ctx) {
  const { items } = await api('GET', '/users', undefined, { signal: ctx.signal });
  const message = errorBanner();
  const reload = () => users(box, ctx);
  fill(
    box,
    h('h2', { id: 'section-title' }, 'Users'),
    message.el,
    table(
      'Users',
      ['Name', 'Role', 'Created', 'State', ''],
      items.map((u) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, u.name),
          h(
            'td',
            null,
            h(
              'select',
              {
                'aria-label': `Role of ${u.name}`,
                onChange: async (e) => {
                  try {
                    await api('PATCH', `/users/${encodeURIComponent(u.name)}`, { role: e.target.value });
                  } catch (error) {
                    message.show(error);
                    e.target.value = u.role;
                  }
                },
              },
              ['viewer', 'editor', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)),
            ),
          ),
          h('td', null, timeEl(u.created_at)),
          h('td', null, u.disabled ? 'disabled' : 'active'),
          h(
            'td',
            { class: 'actions' },
            actionButton(
              u.disabled ? 'Enable' : 'Disable',
              async () => {
                await api('PATCH', `/users/${encodeURIComponent(u.name)}`, { disabled: !u.disabled });
                await reload();
              },
              message,
            ),
            actionButton(
              'Delete',
              async () => {
                if (!confirm(`Delete user ${u.name}?`)) return;
                await api('DELETE', `/users/${encodeURIComponent(u.name)}`);
                await reload();
              },
              message,
              'small danger',
            ),
          ),
        ),
      ),
      'No users.',
    ),
    h('h3', null, 'Add a user'),
    form(
      'User',
      [
        field('User name', text('name', { required: true })),
        field('Password', text('password', { type: 'password', minlength: 8, required: true, autocomplete: 'new-password' })),
        field('Role', choice('role', ['viewer', 'editor', 'admin'], 'editor')),
      ],
      'Add user',
      async (data) => {
        await api('POST', '/users', { name: data.name, password: data.password, role: data.role });
        await reload();
      },
    ),
  );
}

async function storage(box, ctx) {
  const message = errorBanner();
  const prefix = h('input', { id: 'storage-prefix', type: 'search', placeholder: 'all keys' });
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'More keys');
  const usage = h('p', { id: 'storage-usage', class: 'muted' });
  let cursor = null;
  const row = (item) =>
    h(
      'tr',
      null,
      h('th', { scope: 'row' }, h('code', null, item.key)),
      h('td', { class: 'value' }, item.secret ? h('span', { class: 'muted' }, 'secret (hidden)') : h('code', null, truncate(JSON.stringify(item.value)))),
      h('td', { class: 'num' }, item.size_bytes ?? ''),
      h(
        'td',
        { class: 'actions' },
        !item.secret &&
          actionButton(
            'Edit',
            async () => {
              keyInput.value = item.key;
              valueInput.value = JSON.stringify(item.value, null, 2);
              valueInput.focus();
            },
            message,
          ),
        actionButton(
          'Delete',
          async () => {
            if (!confirm(`Delete ${item.key}?`)) return;
            await api('DELETE', `/storage/${encodeURIComponent(item.key)}${item.secret ? '?secret=true' : ''}`);
            await load(true);
          },
          message,
          'small danger',
        ),
      ),
    );
  async function load(reset) {
    if (reset) {
      cursor = null;
      body.replaceChildren();
    }
    const q = new URLSearchParams({ limit: '100' });
    if (prefix.value) q.set('prefix', prefix.value);
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `/storage?${q}`, undefined, { signal: ctx.signal });
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    showUsage(usage, page.usage);
    append(page.items);
  }
  const append = (items) => {
    if (!items.length && !body.children.length) body.append(h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'No keys.')));
    body.append(...items.map(row));
  };
  const keyInput = text('key', { required: true });
  const valueInput = h('textarea', { name: 'value', rows: 4, spellcheck: 'false', placeholder: '{"any": "JSON"}' });
  prefix.addEventListener('input', () => load(true).catch(show));
  more.addEventListener('click', () => load(false).catch(show));
  const show = (error) => message.show(error);
  fill(
    box,
    h('h2', { id: 'section-title' }, 'Storage'),
    h('p', { class: 'muted' }, 'The key-value store scripts use (storage / kvs). Secret values are never shown.'),
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'storage-prefix' }, 'Key prefix'), prefix)),
    usage,
    message.el,
    table('Storage', ['Key', 'Value', 'Bytes', ''], body),
    more,
    h('h3', null, 'Set a value'),
    form('Storage value', [field('Key', keyInput), field('Value (JSON)', valueInput)], 'Save value', async (data) => {
      let value;
      try {
        value = JSON.parse(data.value);
      } catch (error) {
        throw new Error(`Value is not valid JSON: ${error.message}`);
      }
      await api('PUT', `/storage/${encodeURIComponent(data.key)}`, value);
      await load(true);
    }),
  );
  await load(true);
}

// The quota counts every job's entries, secrets and entity values together ([limits] storage_keys, storage_mb).
function showUsage(el, usage) {
  if (!usage) return;
  const part = (label, used, max, fmt) =>
    h(
      'span',
      { class: 'quota' },
      `${label}: ${fmt(used)} of ${max == null ? 'no limit' : fmt(max)} `,
      max != null && h('meter', { min: 0, max, value: Math.min(used, max), high: max * 0.9, 'aria-label': `${label} used` }),
    );
  fill(
    el,
    'Storage quota (all jobs: entries, secrets and entity values) — ',
    part('keys', usage.keys, usage.max_keys, (n) => n.toLocaleString('en')),
    ' · ',
    part('size', usage.bytes, usage.max_bytes, fmtBytes),
  );
}

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function truncate(s, n = 120) {
  return s && s.length > n ? `${s.slice(0, n)}…` : s;
}
