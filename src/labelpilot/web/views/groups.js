// Auto-grouping results, group by group, with "label this group".

import { Api, updateSamplesChunked } from '../lib/api.js';
import { errorBox, h, replace, setError, spinner } from '../lib/dom.js';
import { plural, taskTime } from '../lib/format.js';
import { refuseUnknownLabel } from '../lib/labels.js';
import { counters, datasetHeader, emptyState, pager, setCounters } from '../lib/layout.js';
import { labelHref, sampleGrid } from '../lib/samplegrid.js';

const condition = (prop, group) => [{ metadata: { props: { [prop]: [String(group)] } } }];

/** The newest succeeded auto-grouping task that wrote groups to samples. */
async function latestGrouping(datasetId) {
  const data = await Api.listTasks(datasetId, { type: 'auto-grouping', limit: 20, offset: 0 });
  return data.tasks.find((t) => t.status === 3 && t.result?.group_sizes && (t.config?.result_type ?? 1) === 1) || null;
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  let [ds, task] = await Promise.all([Api.getDataset(id), latestGrouping(id)]);
  if (ctx.signal.aborted) return;
  ctx.title(`Groups · ${ds.dataset_name}`);
  if (!task) {
    replace(
      ctx.root,
      datasetHeader(ds, '/groups'),
      emptyState(
        'No auto-grouping result yet.',
        h('span', 'Start an auto-grouping task (result: sample attribute) from the ', h('a', { href: `#/datasets/${encodeURIComponent(id)}?kind=auto-grouping` }, 'dataset page'), '; its groups show here when it succeeds.'),
      ),
    );
    return;
  }
  const prop = task.result.property || task.config?.property || 'group';
  const groups = Object.entries(task.result.group_sizes).map(([g, n]) => ({ g, n }));
  const state = { group: groups.some((x) => x.g === ctx.query.group) ? ctx.query.group : groups[0].g, page: 0, size: 50 };
  const tiles = counters(ds, ['labeled', 'unlabeled', 'unconfirmed']);
  const list = h('div.group-list', { role: 'tablist', 'aria-label': 'Groups', 'aria-orientation': 'vertical' });
  const heading = h('h2');
  const area = h('div', spinner());
  const status = h('p.status', { role: 'status', 'aria-live': 'polite' });
  const err = errorBox(null);
  const labelInput = h('input', { id: 'group-label', list: 'group-labels', required: true, spellcheck: 'false', placeholder: 'label name', size: 12 });
  const applyBtn = h('button.primary', { type: 'submit' }, 'Label this group');
  let views = new AbortController();
  ctx.signal.addEventListener('abort', () => views.abort());

  function drawList() {
    replace(
      list,
      groups.map(({ g, n }) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': String(g === state.group),
            'aria-label': `Group ${g}: ${plural(n, 'sample')}`,
            title: `Group ${g}: ${plural(n, 'sample')}`,
            dataset: { group: g },
            on: {
              click: () => {
                state.group = g;
                state.page = 0;
                load();
              },
            },
          },
          h('span', `Group ${g}`),
          h('span.count', String(n)),
        ),
      ),
    );
  }

  async function load() {
    views.abort();
    views = new AbortController();
    drawList();
    ctx.replaceQuery({ group: state.group });
    heading.textContent = `Group ${state.group}`;
    try {
      const data = await Api.listSamples(id, { search_conditions: condition(prop, state.group), limit: state.size, offset: state.page });
      if (ctx.signal.aborted) return;
      const idx = groups.findIndex((x) => x.g === state.group);
      const step = (d) => {
        state.group = groups[idx + d].g;
        state.page = 0;
        load();
      };
      replace(
        area,
        h(
          'div.toolbar',
          h('button.secondary', { type: 'button', disabled: idx <= 0, on: { click: () => step(-1) } }, '‹ Previous group'),
          h('button.secondary', { type: 'button', disabled: idx >= groups.length - 1, on: { click: () => step(1) } }, 'Next group ›'),
        ),
        data.samples.length ? sampleGrid(id, data.samples, views.signal, { 'aria-label': `Samples of group ${state.group}` }, (s) => labelHref(id, s)) : emptyState('This group is empty now.'),
        pager({
          total: data.sample_count,
          page: state.page,
          size: state.size,
          sizes: [20, 50, 100],
          label: 'samples',
          onChange: (page, size) => {
            Object.assign(state, { page, size });
            load();
          },
        }),
      );
    } catch (ex) {
      replace(area, errorBox(ex));
    }
  }

  async function allIds(group) {
    const ids = [];
    for (let page = 0; ; page += 1) {
      const data = await Api.listSamples(id, { search_conditions: condition(prop, group), limit: 100, offset: page });
      ids.push(...data.samples.map((s) => s.sample_id));
      if (ids.length >= data.sample_count || !data.samples.length) return ids;
    }
  }

  const form = h(
    'form.label-group',
    { novalidate: true, 'aria-label': 'Label the whole group' },
    h('label', { for: 'group-label' }, 'Label for every sample of this group'),
    h('div.group', labelInput, h('datalist', { id: 'group-labels' }, ds.labels.map((l) => h('option', { value: l.name }))), applyBtn),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setError(err, null);
    const name = labelInput.value.trim();
    if (!name) {
      setError(err, new Error('Type or pick a label name.'));
      labelInput.focus();
      return;
    }
    if (refuseUnknownLabel(ds, name, err, () => form.requestSubmit())) {
      labelInput.focus();
      return;
    }
    applyBtn.disabled = true;
    try {
      const group = state.group;
      const ids = await allIds(group);
      const type = ds.labels.find((l) => l.name === name)?.type ?? 0;
      const res = await updateSamplesChunked(id, ids.map((sid) => ({ sample_id: sid, labels: [{ name, type }] })));
      status.textContent = `Group ${group}: ${plural(res.ok, 'sample')} labeled "${name}".`;
      if (res.failed.length) setError(err, new Error(`${plural(res.failed.length, 'sample')} failed: ${res.failed[0].error_msg}`));
      ds = await Api.getDataset(id);
      setCounters(tiles, ds);
      await load();
    } catch (ex) {
      setError(err, ex);
    } finally {
      applyBtn.disabled = false;
    }
  });

  replace(
    ctx.root,
    datasetHeader(ds, '/groups'),
    tiles,
    h(
      'p.muted',
      `${plural(groups.length, 'group')} from task `,
      h('a', { href: `#/datasets/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task.task_id)}` }, task.task_name),
      ` (${taskTime(task.create_time)}), attribute "${prop}".`,
    ),
    h('div.groups-layout', list, h('section.panel', { 'aria-live': 'off' }, h('div.title-row', heading, form), status, err, area)),
  );
  await load();
}
