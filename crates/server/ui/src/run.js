// The run page: status and timeline (scheduled → queued → started →
// finished), the log tailing live over SSE while the run goes, HTTP calls,
// the result as a JSON tree, the error with the failing line of the
// script; Cancel and Re-run.

import { navigate } from './app.js';
import { api, badge, fill, fmtDuration, fmtTime, h, jsonTree, session, TERMINAL } from './lib.js';
import { appendLog, errorBox, logList } from './output.js';

export async function runPage(main, ctx, id) {
  let run = await api('GET', `/runs/${id}`, undefined, { signal: ctx.signal });
  const job = await api('GET', `/jobs/${run.job_id}`, undefined, { signal: ctx.signal }).catch(() => null);
  const canEdit = session.user.role !== 'viewer';
  let script = null;

  const title = h('h1', null, `Run #${run.id}`);
  const status = h('span', { class: 'run-badge', role: 'status', 'aria-label': 'Status' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline' });
  const facts = h('dl', { class: 'facts' });
  const logs = logList('Logs');
  const logState = h('p', { class: 'muted' });
  const calls = h('div');
  const result = h('div');
  const error = h('div');
  const message = h('p', { role: 'alert', class: 'error', hidden: true });
  const cancel = h('button', { type: 'button', class: 'danger', onClick: doCancel }, 'Cancel');
  const rerun = h('button', { type: 'button', onClick: doRerun }, 'Re-run');

  fill(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('div', null, title, h('p', null, job ? h('a', { href: `/jobs/${job.id}` }, job.name) : `Job ${run.job_id}`, ` · version ${run.job_version}`)),
      h('div', { class: 'buttons' }, status, canEdit && cancel, canEdit && rerun),
    ),
    message,
    timeline,
    facts,
    error,
    h('section', null, h('h2', null, 'Logs'), logState, logs),
    result,
    calls,
  );

  function draw() {
    fill(status, badge(run.status));
    cancel.hidden = TERMINAL.has(run.status);
    const steps = [
      ['Scheduled', run.scheduled_for],
      ['Queued', run.queued_at],
      ['Started', run.started_at],
      ['Finished', run.finished_at],
    ];
    fill(
      timeline,
      steps.map(([label, ts], i) => {
        const prevTs = steps.slice(0, i).reverse().find(([, t]) => t)?.[1];
        const gap = ts && prevTs ? new Date(ts) - new Date(prevTs) : null;
        return h(
          'li',
          { class: ts ? 'done' : 'pending' },
          h('span', { class: 'step' }, label),
          h('span', null, ts ? h('time', { datetime: ts, title: ts }, fmtTime(ts)) : '—'),
          gap != null && gap >= 0 && h('span', { class: 'muted' }, ` +${fmtDuration(gap)}`),
        );
      }),
    );
    const lateness = run.started_at && run.scheduled_for ? new Date(run.started_at) - new Date(run.scheduled_for) : null;
    fill(
      facts,
      [
        ['Trigger', run.trigger],
        ['Attempt', run.attempt],
        ['Duration', fmtDuration(run.duration_ms)],
        ['Lateness', lateness == null ? '—' : fmtDuration(Math.max(0, lateness))],
        ['Node', run.node || '—'],
        run.chain_id != null && ['Chain', run.chain_id],
      ]
        .filter(Boolean)
        .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, String(v)))),
    );
    fill(error, run.error && h('section', null, h('h2', null, 'Error'), errorBox(run.error, script)));
    fill(result, run.status === 'succeeded' && h('section', null, h('h2', null, 'Result'), jsonTree(run.result ?? null)));
    fill(
      calls,
      run.http_calls?.length
        ? h(
            'section',
            null,
            h('h2', null, 'HTTP calls'),
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { 'aria-label': 'HTTP calls' },
                h('thead', null, h('tr', null, ['Method', 'URL', 'Status', 'Duration', 'Retries', 'Size', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
                h(
                  'tbody',
                  null,
                  run.http_calls.map((c) =>
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
                ),
              ),
            ),
          )
        : null,
    );
  }

  async function loadScript() {
    if (!run.error?.line || script) return;
    try {
      const versions = await api('GET', `/jobs/${run.job_id}/versions`, undefined, { signal: ctx.signal });
      const items = versions.items ?? versions;
      script = items.find((v) => v.version === run.job_version)?.spec?.script ?? null;
      draw();
    } catch (err) {
      console.warn('no script for the failing line', err);
    }
  }

  draw();
  loadScript();

  // The log: stored lines, then live ones, then `end` with the final run.
  logState.textContent = TERMINAL.has(run.status) ? '' : 'Following the log live…';
  const source = new EventSource(`/api/v1/runs/${run.id}/logs`);
  ctx.cleanup.push(() => source.close());
  source.addEventListener('log', (event) => appendLog(logs, JSON.parse(event.data)));
  source.addEventListener('end', (event) => {
    source.close();
    run = JSON.parse(event.data);
    logState.textContent = logs.children.length ? '' : 'No log lines.';
    draw();
    loadScript();
  });
  source.addEventListener('error', async () => {
    // Reconnects on its own; meanwhile refresh the status so a run that
    // ended is not shown as running forever.
    if (source.readyState === EventSource.CLOSED) logState.textContent = 'The live log was interrupted.';
    try {
      run = await api('GET', `/runs/${run.id}`, undefined, { signal: ctx.signal });
      draw();
    } catch {
      // The next reconnect tries again.
    }
  });

  async function doCancel() {
    cancel.disabled = true;
    try {
      await api('POST', `/runs/${run.id}/cancel`);
      run = await api('GET', `/runs/${run.id}`);
      draw();
    } catch (err) {
      message.hidden = false;
      message.textContent = err.message;
    } finally {
      cancel.disabled = false;
    }
  }

  async function doRerun() {
    rerun.disabled = true;
    try {
      const body = { trigger: 'manual' };
      const next = await api('POST', `/jobs/${run.job_id}/run`, body);
      navigate(`/runs/${next.id}`);
    } catch (err) {
      message.hidden = false;
      message.textContent = err.message;
      rerun.disabled = false;
    }
  }
}
