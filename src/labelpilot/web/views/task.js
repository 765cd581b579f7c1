// One task: summary, progress, stop button, config, result and the event timeline.

import { Api } from '../lib/api.js';
import { errorBox, h, replace, setError } from '../lib/dom.js';
import { EVENT_TONE, clock, duration, isActive, kindOfType, millis, taskTime, typeTitle } from '../lib/format.js';
import { datasetHeader, progressBar, statusBadge } from '../lib/layout.js';

const REFRESH_MS = 2000;

const isParams = (v) => Array.isArray(v) && v.length > 0 && v.every((p) => p && typeof p === 'object' && 'label' in p && 'value' in p && Object.keys(p).length === 2);

function valueNode(v) {
  if (v === null || v === undefined) return '';
  if (isParams(v)) return h('ul.params-list', v.map((p) => h('li', h('code', p.label), ' = ', h('code', p.value))));
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return h('pre.json', JSON.stringify(v, null, 2));
  return String(v);
}

function defList(obj, skip = []) {
  const entries = Object.entries(obj || {}).filter(([k, v]) => !skip.includes(k) && v !== null && v !== undefined && v !== '');
  if (!entries.length) return h('p.muted', 'Nothing set.');
  return h('dl.kv', entries.map(([k, v]) => [h('dt', k), h('dd', valueNode(v))]));
}

function groupSizes(sizes) {
  const max = Math.max(1, ...Object.values(sizes));
  return h(
    'ol.bars',
    { 'aria-label': 'Group sizes' },
    Object.entries(sizes).map(([g, n]) => h('li', h('span.bar-label', `group ${g}`), h('span.bar', h('span', { style: { width: `${(100 * n) / max}%` } })), h('span.bar-value', String(n)))),
  );
}

function eventItem(ev) {
  const tone = EVENT_TONE[ev.status] || 'neutral';
  return h(
    `li.event.${tone}`,
    { dataset: { event: ev.name, status: ev.status || '' } },
    h('span.dot', { 'aria-hidden': 'true' }),
    h(
      'div.event-body',
      h('div.event-head', h('strong', ev.name), ' ', h(`span.badge.${tone}`, ev.status || ''), h('span.event-time', `${clock(ev.create_time)} · ${millis(ev.elapsed_time)}`)),
      ev.description ? h('p.event-desc', ev.description) : null,
      ev.error_message ? h('p.error', ev.error_code ? `${ev.error_code} ` : '', ev.error_message) : null,
      ev.events?.length ? h('ol.timeline.sub', { 'aria-label': `Steps of ${ev.name}` }, ev.events.map(eventItem)) : null,
    ),
  );
}

export async function render(ctx) {
  const { datasetId, taskId } = ctx.params;
  const [ds, first] = await Promise.all([Api.getDataset(datasetId), Api.getTask(datasetId, taskId)]);
  if (ctx.signal.aborted) return;
  const body = h('div.task-detail');
  const kind = kindOfType(first.type);
  const listHref = `#/datasets/${encodeURIComponent(datasetId)}/tasks${kind && kind.type > 1 ? `?type=${kind.key}` : ''}`;
  const err = errorBox(null);
  let timer;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));

  async function stop(button) {
    button.disabled = true;
    try {
      await Api.stopTask(datasetId, taskId);
      await refresh();
    } catch (ex) {
      button.disabled = false;
      setError(err, ex);
    }
  }

  function draw(t) {
    ctx.title(`${t.task_name || t.task_id} · ${ds.dataset_name}`);
    const result = t.result || {};
    const active = isActive(t);
    const stopButton = active && t.status !== 4 ? h('button.danger', { type: 'button', on: { click: (e) => stop(e.currentTarget) } }, 'Stop task') : null;
    replace(
      body,
      h(
        'section.panel.task-summary',
        h('div.title-row', h('h2', t.task_name || t.task_id), statusBadge(t.status), stopButton),
        progressBar(t.progress, 'Task progress'),
        h(
          'dl.kv.summary',
          h('dt', 'Task ID'),
          h('dd.mono', t.task_id),
          h('dt', 'Kind'),
          h('dd', typeTitle(t.type)),
          h('dt', 'Created'),
          h('dd', taskTime(t.create_time)),
          h('dt', 'Elapsed'),
          h('dd.elapsed', duration(t.elapsed_time)),
          h('dt', 'Message'),
          h('dd', [t.code, t.message].filter(Boolean).join(' ')),
          t.error_msg ? [h('dt', 'Error'), h('dd.error-text', [t.error_code, t.error_msg].filter(Boolean).join(' '))] : null,
          t.error_detail ? [h('dt', 'Detail'), h('dd', h('pre.json', t.error_detail))] : null,
        ),
      ),
      h(
        'div.split.even',
        h(
          'section.panel',
          { 'aria-labelledby': 'events-h' },
          h('h2', { id: 'events-h' }, 'Events'),
          result.events?.length ? h('ol.timeline', { 'aria-label': 'Event timeline' }, result.events.map(eventItem)) : h('p.muted', 'No events yet.'),
        ),
        h(
          'div.stack',
          h('section.panel', { 'aria-labelledby': 'config-h' }, h('h2', { id: 'config-h' }, 'Configuration'), defList(t.config)),
          h(
            'section.panel',
            { 'aria-labelledby': 'result-h' },
            h('h2', { id: 'result-h' }, 'Result'),
            defList(result, ['events', 'group_sizes']),
            result.group_sizes ? [h('h3', 'Group sizes'), groupSizes(result.group_sizes)] : null,
          ),
        ),
      ),
    );
    clearTimeout(timer);
    if (active) timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    try {
      const t = await Api.getTask(datasetId, taskId);
      if (!ctx.signal.aborted) {
        setError(err, null);
        draw(t);
      }
    } catch (ex) {
      if (ctx.signal.aborted) return;
      setError(err, ex);
      timer = setTimeout(refresh, REFRESH_MS * 2);
    }
  }

  replace(
    ctx.root,
    datasetHeader(ds, '/tasks', h('a.button.secondary', { href: listHref }, '‹ All tasks')),
    err,
    body,
  );
  draw(first);
}
