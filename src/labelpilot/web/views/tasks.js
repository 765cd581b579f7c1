// The seed's intelligent-task list: tabs per kind, name search, pagination, badges,
// live progress (refreshed every 2 s while a task is active) and the running-deploy banner.

import { Api } from '../lib/api.js';
import { errorBox, h, replace, spinner } from '../lib/dom.js';
import { KINDS, duration, isActive, taskTime, typeTitle } from '../lib/format.js';
import { datasetHeader, emptyState, pager, progressBar, statusBadge } from '../lib/layout.js';

const TABS = [['', 'Auto label + pre-label'], ...KINDS.map((k) => [k.key, k.title])];
const REFRESH_MS = 2000;

function taskRow(datasetId, t, onStop) {
  const href = `#/datasets/${encodeURIComponent(datasetId)}/tasks/${encodeURIComponent(t.task_id)}`;
  const td = (label, ...content) => h('td', { 'data-label': label }, ...content);
  return h(
    'tr',
    { dataset: { taskId: t.task_id, status: String(t.status) } },
    td('Name', h('a.strong', { href, dataset: { focusKey: `open-${t.task_id}` } }, t.task_name || t.task_id), h('div.muted.small.mono', t.task_id)),
    td('Type', typeTitle(t.type)),
    td('Status', statusBadge(t.status)),
    td('Progress', progressBar(t.progress, `Progress of ${t.task_name || t.task_id}`)),
    td('Elapsed', h('span.elapsed', duration(t.elapsed_time))),
    td('Created', taskTime(t.create_time)),
    h('td.num', { 'data-label': 'Samples' }, String(t.total_sample_count ?? '')),
    h('td.num', { 'data-label': 'To confirm' }, String(t.unconfirmed_sample_count ?? '')),
    td('Message', h('span.small', t.error_msg || t.message || '')),
    h(
      'td.actions',
      { 'data-label': '' },
      isActive(t) && t.status !== 4
        ? h('button.secondary.small', { type: 'button', dataset: { focusKey: `stop-${t.task_id}` }, 'aria-label': `Stop ${t.task_name || t.task_id}`, on: { click: (e) => onStop(t, e.currentTarget) } }, 'Stop')
        : null,
    ),
  );
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  const ds = await Api.getDataset(id);
  if (ctx.signal.aborted) return;
  ctx.title(`Tasks · ${ds.dataset_name}`);
  const sizes = [10, 20, 50, 100];
  const state = {
    type: ctx.query.type || '',
    name: ctx.query.name || '',
    page: Number(ctx.query.page) || 0,
    size: sizes.includes(Number(ctx.query.size)) ? Number(ctx.query.size) : 10,
  };
  // "Start a task" opens the form of the kind shown (the default view: auto label).
  const startHref = () => `#/datasets/${encodeURIComponent(id)}?kind=${encodeURIComponent(state.type || 'auto-label')}`;
  const startLink = h('a.button.primary', { href: startHref() }, 'Start a task');
  const banner = h('div.banner', { role: 'status', hidden: true }, 'An auto-deploy task is running on this dataset: the model is being trained and deployed.');
  const list = h('div', spinner());
  const err = errorBox(null);
  const search = h('input', { type: 'search', value: state.name, placeholder: 'Search by task name', 'aria-label': 'Search tasks by name' });
  const tabs = h(
    'div.tabs.kind-tabs',
    { role: 'tablist', 'aria-label': 'Task kinds' },
    TABS.map(([key, title]) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          dataset: { type: key },
          'aria-selected': String(key === state.type),
          on: {
            click: () => {
              state.type = key;
              state.page = 0;
              for (const b of tabs.children) b.setAttribute('aria-selected', String(b.dataset.type === key));
              load();
            },
          },
        },
        title,
      ),
    ),
  );
  let seq = 0;
  let timer;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));

  async function stop(task, button) {
    button.disabled = true;
    try {
      await Api.stopTask(id, task.task_id);
      await load();
    } catch (ex) {
      button.disabled = false;
      replace(err, ex.code ? `${ex.code} ` : '', ex.message);
      err.hidden = false;
    }
  }

  async function load() {
    const mine = ++seq;
    ctx.replaceQuery({ type: state.type, name: state.name, page: state.page || '', size: state.size === 10 ? '' : state.size });
    startLink.href = startHref();
    try {
      const data = await Api.listTasks(id, { type: state.type, task_name: state.name, limit: state.size, offset: state.page });
      if (ctx.signal.aborted || mine !== seq) return;
      err.hidden = true;
      banner.hidden = !data.exist_running_deploy_task;
      const pages = Math.max(1, Math.ceil(data.total_count / state.size));
      if (state.page >= pages && state.page > 0) {
        state.page = pages - 1;
        return load();
      }
      const table = data.tasks.length
        ? h(
            'div.table-wrap',
            h(
              'table.data.tasks.cards-on-phone',
              { 'aria-label': 'Intelligent tasks' },
              h('thead', h('tr', ['Name', 'Type', 'Status', 'Progress', 'Elapsed', 'Created', 'Samples', 'To confirm', 'Message', ''].map((t, i) => h(i === 6 || i === 7 ? 'th.num' : 'th', { scope: 'col' }, t)))),
              h('tbody', data.tasks.map((t) => taskRow(id, t, stop))),
            ),
          )
        : emptyState(state.name ? 'No task matches this name.' : 'No task of this kind yet.', h('a', { href: `#/datasets/${encodeURIComponent(id)}` }, 'Start one from the dataset page.'));
      const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
      replace(
        list,
        table,
        pager({
          total: data.total_count,
          page: state.page,
          size: state.size,
          sizes,
          label: 'tasks',
          onChange: (page, size) => {
            Object.assign(state, { page, size });
            load();
          },
        }),
      );
      if (focusKey) list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
      clearTimeout(timer);
      if (data.tasks.some(isActive) || data.exist_running_deploy_task) timer = setTimeout(load, REFRESH_MS);
    } catch (ex) {
      if (ctx.signal.aborted || mine !== seq) return;
      replace(err, ex.code ? h('span.code', ex.code) : '', ' ', ex.message);
      err.hidden = false;
    }
  }

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.name = search.value.trim();
      state.page = 0;
      load();
    }, 250);
  });

  replace(
    ctx.root,
    datasetHeader(ds, '/tasks', startLink),
    banner,
    h('div.toolbar.spread', tabs, search),
    err,
    list,
  );
  await load();
}
