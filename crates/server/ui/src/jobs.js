// The jobs page: every job with its owner, description (shortened, whole
// on hover), tags, schedule (words and cron), zone, next run, last status,
// a strip of its last 20 runs and their average duration; search and
// filters (name, last status, state, tag, owner) in the URL, server-side
// paging, pause/resume in place; editors select jobs (a checkbox per row,
// one for the page) to pause, resume or delete them at once.

import { errorBanner, table } from './components.js';
import { api, badge, debounce, fill, fmtDuration, h, session, STATUSES, statusLabel, timeEl } from './lib.js';

const PAGE_SIZE = 50;
const REFRESH_MS = 10_000;

export async function jobsPage(main, ctx) {
  const params = new URLSearchParams(location.search);
  const filters = { q: params.get('q') || '', status: params.get('status') || '', enabled: params.get('enabled') || '', tag: params.get('tag') || '', owner: params.get('owner') || '' };
  const cursors = [null]; // cursors[i] is the cursor of page i
  let pageIndex = 0;
  const canEdit = session.user.role !== 'viewer';

  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const body = h('tbody');
  const message = errorBanner();
  const prev = h('button', { type: 'button', onClick: () => go(pageIndex - 1) }, 'Previous page');
  const next = h('button', { type: 'button', onClick: () => go(pageIndex + 1) }, 'Next page');
  // Selected jobs by id (kept across refreshes and pages) → name, for the confirmation.
  const selected = new Map();
  let shown = [];
  const selectPage = h('input', { type: 'checkbox', 'aria-label': 'Select every job on this page', onChange: (e) => selectAll(e.target.checked) });
  const selectionCount = h('span', { 'aria-live': 'polite' });
  const bulkButton = (label, fn, cls = 'small') => h('button', { type: 'button', class: cls, onClick: (e) => bulk(e.currentTarget, fn) }, label);
  const bulkBar = h(
    'div',
    { class: 'filters bulk', role: 'group', 'aria-label': 'Selected jobs', hidden: true },
    selectionCount,
    bulkButton('Pause selected', (id) => api('POST', `/jobs/${id}/pause`)),
    bulkButton('Resume selected', (id) => api('POST', `/jobs/${id}/resume`)),
    bulkButton('Delete selected', (id) => api('DELETE', `/jobs/${id}`), 'small danger'),
    h('button', { type: 'button', class: 'small ghost', onClick: () => (selected.clear(), drawSelection()) }, 'Clear selection'),
  );

  const syncUrl = () => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
    const qs = p.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
  };
  const refilter = () => {
    syncUrl();
    cursors.length = 1;
    go(0);
  };

  const search = h('input', {
    type: 'search',
    placeholder: 'Name contains…',
    value: filters.q,
    onInput: debounce((e) => {
      filters.q = e.target.value.trim();
      refilter();
    }, 250),
  });
  /** A text filter of the list named `key` in `filters` (and the URL). */
  const textFilter = (key, placeholder) =>
    h('input', {
      type: 'search',
      placeholder,
      value: filters[key],
      size: 12,
      onInput: debounce((e) => {
        filters[key] = e.target.value.trim();
        refilter();
      }, 250),
    });
  const tagFilter = textFilter('tag', 'any');
  const ownerFilter = textFilter('owner', 'anyone');
  /** A value in a row (`text`) as a button that sets `input`, the filter `key`, to it. */
  const filterButton = (key, input, text, title, cls) =>
    h(
      'button',
      {
        type: 'button',
        class: cls,
        title,
        onClick: () => {
          filters[key] = text;
          input.value = text;
          refilter();
        },
      },
      text,
    );
  const tagChip = (tag) => filterButton('tag', tagFilter, tag, `Show the jobs tagged ${tag}`, 'tag');
  const ownerButton = (owner) => filterButton('owner', ownerFilter, owner, `Show the jobs of ${owner}`, 'link-button owner');
  const status = h(
    'select',
    {
      onChange: (e) => {
        filters.status = e.target.value;
        refilter();
      },
    },
    h('option', { value: '' }, 'Any'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, statusLabel(s))),
  );
  const enabled = h(
    'select',
    {
      onChange: (e) => {
        filters.enabled = e.target.value;
        refilter();
      },
    },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'true', selected: filters.enabled === 'true' }, 'Active'),
    h('option', { value: 'false', selected: filters.enabled === 'false' }, 'Paused'),
  );

  fill(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Jobs'),
      canEdit && h('a', { class: 'button primary', href: '/jobs/new' }, 'New job'),
    ),
    h(
      'div',
      { class: 'filters', role: 'search' },
      h('label', null, 'Search', search),
      h('label', null, 'Last status', status),
      h('label', null, 'State', enabled),
      h('label', null, 'Tag', tagFilter),
      h('label', null, 'Owner', ownerFilter),
    ),
    message.el,
    canEdit && bulkBar,
    table(
      'Jobs',
      [canEdit ? selectPage : null, 'Name', 'Owner', 'Description and tags', 'Schedule', 'Time zone', 'Next run', 'Last status', 'Last 20 runs', 'Avg duration', ''].filter((c) => c !== null),
      body,
      null,
      { class: 'jobs' },
    ),
    h('div', { class: 'pager' }, count, h('div', { class: 'buttons' }, prev, next)),
  );

  async function load() {
    const p = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filters.q) p.set('q', filters.q);
    if (filters.status) p.set('status', filters.status);
    if (filters.enabled) p.set('enabled', filters.enabled);
    if (filters.tag) p.set('tag', filters.tag);
    if (filters.owner) p.set('owner', filters.owner);
    if (cursors[pageIndex]) p.set('cursor', cursors[pageIndex]);
    const page = await api('GET', `/jobs?${p}`, undefined, { signal: ctx.signal });
    message.hide();
    cursors[pageIndex + 1] = page.next_cursor || null;
    prev.disabled = pageIndex === 0;
    next.disabled = !page.next_cursor;
    const total = typeof page.total === 'number' ? page.total : null;
    const first = pageIndex * PAGE_SIZE + 1;
    count.textContent = page.items.length
      ? `${first}–${first + page.items.length - 1}${total == null ? '' : ` of ${total}`} job${total === 1 ? '' : 's'}`
      : '';
    if (!page.items.length) {
      const anyFilter = Object.values(filters).some(Boolean);
      fill(
        body,
        h(
          'tr',
          null,
          h(
            'td',
            { colspan: canEdit ? 11 : 10, class: 'empty' },
            anyFilter ? 'No job matches these filters.' : 'No jobs yet. ',
            !anyFilter && canEdit && h('a', { href: '/jobs/new' }, 'Write the first one'),
          ),
        ),
      );
      shown = [];
      drawSelection();
      return;
    }
    shown = page.items;
    fill(body, page.items.map(row));
    drawSelection();
  }

  function drawSelection() {
    bulkBar.hidden = selected.size === 0;
    selectionCount.textContent = `${selected.size} selected`;
    for (const box of body.querySelectorAll('input[data-select]')) box.checked = selected.has(Number(box.dataset.select));
    const onPage = shown.filter((j) => selected.has(j.id)).length;
    selectPage.checked = shown.length > 0 && onPage === shown.length;
    selectPage.indeterminate = onPage > 0 && onPage < shown.length;
  }

  function selectAll(on) {
    for (const job of shown) {
      if (on) selected.set(job.id, job.name);
      else selected.delete(job.id);
    }
    drawSelection();
  }

  /** Runs `fn(id)` for every selected job (deleting asks first); reports the ones that failed by name. */
  async function bulk(button, fn) {
    const deleting = button.textContent.startsWith('Delete');
    const names = [...selected.values()];
    if (deleting && !confirm(`Delete ${names.length} job${names.length === 1 ? '' : 's'} (${names.join(', ')}) and their history?`)) return;
    for (const b of bulkBar.querySelectorAll('button')) b.disabled = true;
    const failures = [];
    for (const [id, name] of [...selected]) {
      try {
        await fn(id);
        if (deleting) selected.delete(id);
      } catch (error) {
        failures.push(`${name}: ${error.message}`);
      }
    }
    for (const b of bulkBar.querySelectorAll('button')) b.disabled = false;
    await go(pageIndex);
    if (failures.length) show(new Error(failures.join('; ')));
  }

  function row(job) {
    const runs = job.recent_runs || (job.last_run ? [job.last_run] : []);
    const lastStatus = runs[0]?.status || job.last_run?.status || null;
    const toggle = canEdit
      ? h(
          'button',
          {
            type: 'button',
            class: 'small',
            onClick: async (e) => {
              e.target.disabled = true;
              try {
                await api('POST', `/jobs/${job.id}/${job.enabled ? 'pause' : 'resume'}`);
                await load();
              } catch (error) {
                show(error);
                e.target.disabled = false;
              }
            },
          },
          job.enabled ? 'Pause' : 'Resume',
        )
      : null;
    const pick =
      canEdit &&
      h(
        'td',
        { class: 'select' },
        h('input', {
          type: 'checkbox',
          'data-select': job.id,
          checked: selected.has(job.id),
          'aria-label': `Select ${job.name}`,
          onChange: (e) => {
            if (e.target.checked) selected.set(job.id, job.name);
            else selected.delete(job.id);
            drawSelection();
          },
        }),
      );
    return h(
      'tr',
      { 'data-job': job.name },
      pick,
      h(
        'th',
        { scope: 'row' },
        h('a', { href: `/jobs/${job.id}` }, job.name),
        !job.enabled && h('span', { class: 'badge paused' }, 'paused'),
      ),
      h('td', { 'data-label': 'Owner' }, job.owner ? ownerButton(job.owner) : h('span', { class: 'muted' }, '—')),
      h(
        'td',
        { class: 'description', 'data-label': 'About' },
        // Long descriptions are cut to two lines by the stylesheet; the whole text is in the tooltip.
        job.description ? h('div', { class: 'about', title: job.description }, job.description) : null,
        job.tags?.length ? h('div', { class: 'tags' }, job.tags.map(tagChip)) : null,
      ),
      h(
        'td',
        { class: 'schedule' },
        job.schedule
          ? [h('div', null, job.schedule_description || ''), h('code', { class: 'cron' }, job.schedule.cron)]
          : h('span', { class: 'muted' }, 'on demand'),
      ),
      h('td', { 'data-label': 'Zone' }, job.schedule?.timezone || '—'),
      h('td', { 'data-label': 'Next' }, job.enabled ? timeEl(job.next_fire_at) : h('span', { class: 'muted' }, 'paused')),
      h('td', { 'data-label': 'Last' }, badge(lastStatus)),
      h('td', null, strip(runs)),
      h('td', { class: 'num', 'data-label': 'Avg' }, fmtDuration(job.avg_duration_ms)),
      h('td', { class: 'actions' }, toggle),
    );
  }

  function show(error) {
    message.show(error);
  }

  async function go(index) {
    pageIndex = Math.max(0, index);
    try {
      await load();
    } catch (error) {
      if (error.name !== 'AbortError') show(error);
    }
  }

  await load();
  // Keep the strips and next runs current while the page is open.
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') go(pageIndex);
  }, REFRESH_MS);
  ctx.cleanup.push(() => clearInterval(timer));
}

/**
 * The last runs, oldest on the left, each a coloured cell linking to the
 * run. One tab stop per strip (the newest run); the arrow keys, Home and
 * End move between its cells.
 */
export function strip(runs) {
  const cells = runs
    .slice(0, 20)
    .reverse()
    .map((run, i, all) =>
      h('a', {
        class: `cell s-${run.status}`,
        href: `/runs/${run.id}`,
        tabindex: i === all.length - 1 ? 0 : -1,
        title: `${statusLabel(run.status)}${run.scheduled_for ? ` · ${run.scheduled_for}` : ''}${run.duration_ms != null ? ` · ${fmtDuration(run.duration_ms)}` : ''}`,
        'aria-label': `Run ${run.id}: ${statusLabel(run.status)}`,
      }),
    );
  const move = (event) => {
    const at = cells.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: cells.length - 1 }[event.key];
    if (to == null || to < 0 || to >= cells.length) return;
    event.preventDefault();
    cells[at].tabIndex = -1;
    cells[to].tabIndex = 0;
    cells[to].focus();
  };
  return h(
    'div',
    { class: 'strip', role: 'list', 'aria-label': 'Recent runs (arrow keys move between them)', onKeydown: move },
    cells.map((c) => h('span', { role: 'listitem' }, c)),
  );
}
