// The run page: status and timeline (scheduled → queued → started →
// finished), the log tailing live over SSE while the run goes, HTTP calls,
// the result as a JSON tree, the error with the failing line of the
// script; Cancel and Re-run.

import { navigate } from './app.js';
import { api, badge, fill, fmtDuration, fmtTime, h, jsonTree, session, TERMINAL } from './lib.js';
import { errorBox, httpCallsTable, logView } from './output.js';
import { errorBanner, zoneSwitch } from './components.js';

/** Log lines fetched per request: a small first page so the first lines show at once, then big ones. */
const FIRST_LOG_PAGE = 500;
const LOG_PAGE = 10_000;

export async function runPage(main, ctx, id) {
  let run = await api('GET', `/runs/${id}`, undefined, { signal: ctx.signal });
  const job = await api('GET', `/jobs/${run.job_id}`, undefined, { signal: ctx.signal }).catch(() => null);
  const canEdit = session.user.role !== 'viewer';
  let script = null;

  const title = h('h1', null, `Run #${run.id}`);
  const status = h('span', { class: 'run-badge', role: 'status', 'aria-label': 'Status' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline' });
  const facts = h('dl', { class: 'facts' });
  const logs = logView('Logs', { tools: true, filename: `run-${run.id}`, follow: !TERMINAL.has(run.status) });
  const logState = h('p', { class: 'muted' });
  const calls = h('div');
  const result = h('div');
  const error = h('div');
  const message = errorBanner();
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
    message.el,
    zoneSwitch(ctx, job?.schedule?.timezone, () => draw()),
    timeline,
    facts,
    error,
    h('section', null, h('h2', null, 'Logs'), logState, logs.el),
    result,
    calls,
  );

  // A run's state only moves forward: an answer that left the server
  // before the run ended (the cancel's own refresh, a reconnect's) may land
  // after the stream's `end`, and must not bring back `running` and its
  // Cancel button on a run that is over.
  function update(next) {
    if (TERMINAL.has(run.status) && !TERMINAL.has(next.status)) return;
    run = next;
    draw();
  }

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
        ? h('section', null, h('h2', null, 'HTTP calls'), httpCallsTable(run.http_calls))
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

  // The log: the stored lines a page at a time, then (while the run goes)
  // the live ones over SSE from the last line fetched, with the run's status
  // changes (`run` events) and its final state (`end`).
  let lastSeq = 0;
  const accept = (items) => {
    // A reconnecting event stream may send lines again: keep each seq once.
    const fresh = items.filter((line) => line.seq > lastSeq);
    if (!fresh.length) return;
    lastSeq = fresh[fresh.length - 1].seq;
    logs.push(fresh);
  };
  const endedWhenOpened = TERMINAL.has(run.status);
  logState.textContent = endedWhenOpened ? 'Loading the log…' : 'Following the log live…';
  for (let limit = FIRST_LOG_PAGE; ; limit = LOG_PAGE) {
    const page = await api('GET', `/runs/${run.id}/logs?after=${lastSeq}&limit=${limit}`, undefined, { signal: ctx.signal });
    accept(page.items);
    if (page.next_after == null) break;
  }
  if (endedWhenOpened) {
    logState.textContent = logs.lines.length ? '' : 'No log lines.';
    return;
  }
  const source = new EventSource(`/api/v1/runs/${run.id}/logs?after=${lastSeq}`);
  ctx.cleanup.push(() => source.close());
  source.addEventListener('log', (event) => accept([JSON.parse(event.data)]));
  source.addEventListener('run', (event) => update(JSON.parse(event.data)));
  source.addEventListener('end', (event) => {
    source.close();
    update(JSON.parse(event.data));
    logState.textContent = logs.lines.length ? '' : 'No log lines.';
    loadScript();
  });
  source.addEventListener('error', async () => {
    // Reconnects on its own; meanwhile refresh the status so a run that
    // ended is not shown as running forever.
    if (source.readyState === EventSource.CLOSED) logState.textContent = 'The live log was interrupted.';
    try {
      update(await api('GET', `/runs/${run.id}`, undefined, { signal: ctx.signal }));
    } catch {
      // The next reconnect tries again.
    }
  });

  async function doCancel() {
    cancel.disabled = true;
    try {
      await api('POST', `/runs/${run.id}/cancel`);
      update(await api('GET', `/runs/${run.id}`));
    } catch (err) {
      message.show(err);
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
      message.show(err);
      rerun.disabled = false;
    }
  }
}
