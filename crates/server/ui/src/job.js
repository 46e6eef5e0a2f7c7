// The job page: its schedule and state with Edit, Run now, Pause/Resume
// and Delete; chain and queue progress when it has them; run history with
// a status filter; a chart of run durations with failures marked; versions
// with a side-by-side diff of any two and who saved them.

import { navigate } from './app.js';
import { actionButton, errorBanner, field, modal, table, zoneSwitch } from './components.js';
import { api, badge, diffLines, fill, fmtDuration, fmtTime, h, session, STATUSES, statusLabel, svg, timeEl } from './lib.js';

const RUNS_PAGE = 50;

export async function jobPage(main, ctx, ref) {
  let job = await api('GET', `/jobs/${encodeURIComponent(ref)}`, undefined, { signal: ctx.signal });
  const canEdit = session.user.role !== 'viewer';
  const message = errorBanner();
  const notice = h('p', { role: 'status', class: 'notice' });
  const head = h('div');
  const progress = h('div');
  const runsBody = h('tbody');
  const chart = h('figure', { class: 'chart' });
  const more = h('button', { type: 'button', hidden: true }, 'More runs');
  const versionsBox = h('section', { 'aria-labelledby': 'versions-title' });
  let runs = [];
  let cursor = null;
  let statusFilter = '';

  const fail = (error) => message.show(error);
  const zoneBox = h('div', { class: 'filters' });
  const redrawTimes = () => {
    drawHead();
    drawRuns();
    loadVersions().catch(fail);
  };
  const act = (label, fn, cls = '') => actionButton(label, fn, message, cls);

  async function reloadJob() {
    job = await api('GET', `/jobs/${job.id}`, undefined, { signal: ctx.signal });
    drawHead();
  }

  function drawHead() {
    fill(zoneBox, zoneSwitch(ctx, job.schedule?.timezone, redrawTimes));
    fill(
      head,
      h(
        'div',
        { class: 'page-head' },
        h('div', null, h('h1', null, job.name, !job.enabled && h('span', { class: 'badge paused' }, 'paused')), job.description && h('p', null, job.description)),
        canEdit &&
          h(
            'div',
            { class: 'buttons' },
            h('a', { class: 'button', href: `/jobs/${job.id}/edit` }, 'Edit'),
            act('Run now', async () => {
              const run = await api('POST', `/jobs/${job.id}/run`, { trigger: 'manual' });
              navigate(`/runs/${run.id}`);
            }),
            act('Run with inputs…', runWithInputs),
            job.enabled
              ? act('Pause', async () => {
                  await api('POST', `/jobs/${job.id}/pause`);
                  await reloadJob();
                })
              : act('Resume', async () => {
                  await api('POST', `/jobs/${job.id}/resume`);
                  await reloadJob();
                }),
            act(
              'Delete',
              async () => {
                if (!confirm(`Delete ${job.name} and its history?`)) return;
                await api('DELETE', `/jobs/${job.id}`);
                navigate('/');
              },
              'danger',
            ),
          ),
        !canEdit && h('a', { class: 'button', href: `/jobs/${job.id}/edit` }, 'View script'),
      ),
      h(
        'dl',
        { class: 'facts' },
        [
          ['Schedule', job.schedule ? [job.schedule_description ? `${job.schedule_description} ` : '', h('code', null, job.schedule.cron)] : 'on demand'],
          ['Time zone', job.schedule?.timezone ?? '—'],
          ['Next run', job.enabled ? timeEl(job.next_fire_at) : 'paused'],
          ['Version', String(job.version)],
          job.owner ? ['Owner', h('a', { href: `/?owner=${encodeURIComponent(job.owner)}`, title: `Show the jobs of ${job.owner}` }, job.owner)] : null,
          job.tags?.length ? ['Tags', job.tags.map((t) => [h('a', { class: 'tag', href: `/?tag=${encodeURIComponent(t)}` }, t), ' '])] : null,
          ['Timeout', fmtDuration(job.timeout_seconds * 1000)],
          ['Overlap', job.overlap.replace(/_/g, ' ')],
          ['Retries', job.retry.max_attempts > 1 ? `${job.retry.max_attempts - 1} (backoff ${job.retry.backoff_seconds} s)` : 'none'],
        ]
          .filter(Boolean)
          .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))),
      ),
    );
    drawProgress();
  }

  function drawProgress() {
    const p = job.progress;
    const chain = p?.chain;
    const queue = p?.queue;
    fill(
      progress,
      (chain || queue) &&
        h(
          'section',
          null,
          h('h2', null, 'Progress'),
          chain &&
            h(
              'p',
              null,
              `Chain #${chain.id}: `,
              badge(chain.status),
              ` · ${chain.chunks_done} chunk(s) done since `,
              timeEl(chain.started_at),
              chain.latest_state_bytes != null ? ` · state ${chain.latest_state_bytes} bytes` : '',
            ),
          queue &&
            h(
              'div',
              null,
              h('p', null, `Queue ${queue.key}: ${queue.succeeded} succeeded, ${queue.in_progress} in progress, ${queue.failed} failed`),
              h('progress', {
                max: Math.max(1, queue.succeeded + queue.in_progress + queue.failed),
                value: queue.succeeded + queue.failed,
                'aria-label': `Queue ${queue.key} progress`,
              }),
            ),
        ),
    );
  }

  async function loadRuns(reset) {
    if (reset) {
      runs = [];
      cursor = null;
    }
    const q = new URLSearchParams({ limit: String(RUNS_PAGE) });
    if (statusFilter) q.set('status', statusFilter);
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `/jobs/${job.id}/runs?${q}`, undefined, { signal: ctx.signal });
    runs = runs.concat(page.items);
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    drawRuns();
  }

  function drawRuns() {
    fill(
      runsBody,
      runs.length
        ? runs.map((run) => {
            const late = run.started_at && run.scheduled_for ? new Date(run.started_at) - new Date(run.scheduled_for) : null;
            return h(
              'tr',
              null,
              h('th', { scope: 'row' }, h('a', { href: `/runs/${run.id}` }, `#${run.id}`)),
              h('td', null, badge(run.status)),
              h('td', null, run.trigger.replace(/_/g, ' ')),
              h('td', null, run.scheduled_for ? timeEl(run.scheduled_for, false) : '—'),
              h('td', null, timeEl(run.started_at, false)),
              h('td', { class: 'num' }, fmtDuration(run.duration_ms)),
              h('td', { class: 'num' }, late == null ? '—' : fmtDuration(Math.max(0, late))),
              h('td', { class: 'num' }, run.attempt),
            );
          })
        : h('tr', null, h('td', { colspan: 8, class: 'empty' }, statusFilter ? 'No run with this status.' : 'No runs yet.')),
    );
    drawChart();
  }

  /** "Run with inputs…": one run with params typed here instead of the job's. */
  async function runWithInputs() {
    const input = h('textarea', { name: 'params', rows: 8, spellcheck: 'false', value: JSON.stringify(job.params ?? {}, null, 2) });
    const run = await modal(
      `Run ${job.name} with inputs`,
      field('Params (JSON object)', input, "This run's context.params; the job's saved params stay as they are."),
      'Run',
      async () => {
        const params = parseParams(input.value);
        return api('POST', `/jobs/${job.id}/run`, { trigger: 'manual', params });
      },
    );
    if (run?.id) navigate(`/runs/${run.id}`);
  }

  /** "Restore this version": the diff from the current version first, then a new version with the old script and settings. */
  async function restore(version, current) {
    // Pausing is not part of a version: the job stays paused or enabled as it is now.
    const spec = { ...version.spec, enabled: job.enabled };
    const restored = await modal(
      `Restore version ${version.version}?`,
      [
        h('p', null, `Saves a new version with the script and settings of v${version.version} (by ${version.actor}, ${fmtTime(version.created_at)}). These are the changes from the current v${current.version}:`),
        h('h3', null, 'Script'),
        diffTable(`Script changes restoring v${version.version}`, current.spec.script, spec.script),
        h('h3', null, 'Settings'),
        diffTable(`Settings changes restoring v${version.version}`, settingsText({ ...current.spec, enabled: job.enabled }), settingsText(spec)),
      ],
      `Restore version ${version.version}`,
      () => api('PUT', `/jobs/${job.id}`, { ...spec, version: job.version }),
    );
    if (!restored?.id) return;
    job = restored;
    drawHead();
    await loadVersions();
    notice.textContent = `Restored version ${version.version} as version ${job.version}.`;
  }

  function drawChart() {
    const points = runs.filter((r) => r.duration_ms != null && (r.started_at || r.queued_at)).slice(0, 200).reverse();
    if (points.length < 1) {
      fill(chart);
      return;
    }
    const W = 640;
    const H = 160;
    const pad = 28;
    const max = Math.max(...points.map((r) => r.duration_ms), 1);
    const step = Math.min(24, (W - pad * 2) / Math.max(points.length, 1));
    const bars = points.map((r, i) => {
      const bad = !['succeeded', 'running', 'queued'].includes(r.status);
      const height = Math.max(2, ((H - pad * 2) * r.duration_ms) / max);
      const x = pad + i * step;
      const y = H - pad - height;
      return svg(
        'g',
        { class: bad ? 'bar failed' : 'bar' },
        svg('title', null, `#${r.id} ${statusLabel(r.status)} · ${fmtDuration(r.duration_ms)} · ${fmtTime(r.started_at || r.queued_at)}`),
        svg('rect', { x: x + step * 0.1, y, width: Math.max(1, step * 0.8), height }),
        bad && svg('text', { x: x + step / 2, y: y - 3, 'text-anchor': 'middle', class: 'mark' }, '✕'),
      );
    });
    const failures = points.filter((r) => !['succeeded', 'running', 'queued'].includes(r.status)).length;
    fill(
      chart,
      svg(
        'svg',
        { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Durations of the last ${points.length} runs, longest ${fmtDuration(max)}, ${failures} failed` },
        svg('line', { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: 'axis' }),
        svg('text', { x: 2, y: pad, class: 'axis-label' }, fmtDuration(max)),
        svg('text', { x: 2, y: H - pad, class: 'axis-label' }, '0'),
        bars,
      ),
      h('figcaption', null, 'Run durations, oldest to newest; failures in red with ✕'),
    );
  }

  async function loadVersions() {
    const answer = await api('GET', `/jobs/${job.id}/versions`, undefined, { signal: ctx.signal });
    const versions = (answer.items ?? answer).slice().sort((a, b) => b.version - a.version);
    const diffBox = h('div', { class: 'diff-box' });
    const pick = (label, value) =>
      h(
        'select',
        { 'aria-label': label, onChange: drawDiff },
        versions.map((v) => h('option', { value: v.version, selected: v.version === value }, `v${v.version}`)),
      );
    const from = pick('From version', versions[1]?.version ?? versions[0]?.version);
    const to = pick('To version', versions[0]?.version);
    function drawDiff() {
      const a = versions.find((v) => v.version === Number(from.value));
      const b = versions.find((v) => v.version === Number(to.value));
      if (!a || !b) return fill(diffBox);
      const settings = (v) => settingsText(v.spec);
      fill(
        diffBox,
        h('p', { class: 'muted' }, `v${a.version} by ${a.actor}, ${fmtTime(a.created_at)} → v${b.version} by ${b.actor}, ${fmtTime(b.created_at)}`),
        h('h3', null, 'Script'),
        diffTable(`Script diff of v${a.version} and v${b.version}`, a.spec.script, b.spec.script),
        h('h3', null, 'Settings'),
        diffTable(`Settings diff of v${a.version} and v${b.version}`, settings(a), settings(b)),
      );
    }
    fill(
      versionsBox,
      h('h2', { id: 'versions-title' }, 'Versions'),
      session.user.role === 'admin' && h('p', null, h('a', { href: `/settings/audit?job=${job.id}` }, 'Audit log of this job')),
      table(
        'Versions',
        ['Version', 'Saved by', 'When', ''],
        versions.map((v) =>
          h(
            'tr',
            null,
            h('td', null, `v${v.version}`, v.version === job.version ? h('span', { class: 'muted' }, ' (current)') : ''),
            h('td', null, v.actor),
            h('td', null, timeEl(v.created_at, false)),
            h(
              'td',
              null,
              canEdit &&
                v.version !== job.version &&
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'small',
                    'aria-label': `Restore version ${v.version}`,
                    onClick: () => restore(v, versions.find((c) => c.version === job.version) ?? versions[0]).catch(fail),
                  },
                  'Restore this version',
                ),
            ),
          ),
        ),
      ),
      versions.length > 1 && h('div', { class: 'filters' }, h('label', null, 'From ', from), h('label', null, 'To ', to)),
      versions.length > 1 ? diffBox : h('p', { class: 'muted' }, 'Only one version so far: nothing to compare.'),
    );
    if (versions.length > 1) drawDiff();
  }

  const filter = h(
    'select',
    {
      onChange: async (e) => {
        statusFilter = e.target.value;
        try {
          await loadRuns(true);
        } catch (error) {
          fail(error);
        }
      },
    },
    h('option', { value: '' }, 'Any'),
    STATUSES.map((s) => h('option', { value: s }, statusLabel(s))),
  );
  more.addEventListener('click', () => loadRuns(false).catch(fail));

  fill(
    main,
    head,
    zoneBox,
    message.el,
    notice,
    progress,
    h(
      'section',
      { 'aria-labelledby': 'runs-title' },
      h('h2', { id: 'runs-title' }, 'Runs'),
      chart,
      h('div', { class: 'filters' }, h('label', null, 'Status', filter)),
      table('Runs', ['Run', 'Status', 'Trigger', 'Scheduled for', 'Started', 'Duration', 'Lateness', 'Attempt'], runsBody),
      more,
    ),
    versionsBox,
  );
  drawHead();
  await Promise.all([loadRuns(true), loadVersions()]);
  // New runs appear without a reload while the page is open.
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && !cursor) loadRuns(true).catch(() => {});
  }, 5000);
  ctx.cleanup.push(() => clearInterval(timer));
}

/** A version's settings (everything but the script) as JSON text to diff. */
function settingsText(spec) {
  const { script, version, ...rest } = spec;
  return JSON.stringify(rest, null, 2);
}

/** The params typed in a dialog: a JSON object, or an error saying what is wrong. */
export function parseParams(text) {
  let value;
  try {
    value = text.trim() ? JSON.parse(text) : {};
  } catch (error) {
    throw new Error(`Params is not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('Params must be a JSON object, like {"key": "value"}.');
  }
  return value;
}

/** A side-by-side diff table of two texts. */
export function diffTable(label, a, b) {
  const rows = diffLines(a, b);
  const changed = rows.some((r) => r.type !== 'same');
  if (!changed) return h('p', { class: 'muted' }, 'No change.');
  const cell = (side, cls) => [
    h('td', { class: `ln ${cls}` }, side ? String(side.n) : ''),
    h('td', { class: `code ${cls}` }, side ? side.text : ''),
  ];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'diff', 'aria-label': label },
      h('tbody', null, rows.map((r) => h('tr', { class: r.type }, cell(r.left, r.left && r.type !== 'same' ? 'del' : ''), cell(r.right, r.right && r.type !== 'same' ? 'add' : '')))),
    ),
  );
}
