// One dataset: counters, its samples as a thumbnail grid with filters, and the create-task forms.

import { Api } from '../lib/api.js';
import { clearFieldErrors, errorBox, field, fieldError, h, replace, select, spinner } from '../lib/dom.js';
import { counters, datasetHeader, emptyState, pager } from '../lib/layout.js';
import { labelHref, sampleGrid } from '../lib/samplegrid.js';
import { taskForms } from '../lib/taskforms.js';

const STATES = [
  ['', 'All'],
  ['__ALL__', 'Labeled'],
  ['__NONE__', 'Unlabeled'],
  ['__AUTO_ANNOTATION__', 'To be confirmed'],
];

function filterForm(ds, state, onApply) {
  const labels = [['', 'Any label'], ...ds.labels.map((l) => [l.name, l.name])];
  const form = h(
    'form.filters',
    { 'aria-label': 'Filter samples', novalidate: true },
    field('State', select('sample_state', STATES, state.sample_state)),
    field('Label', select('label_name', labels, state.label_name)),
    field('Score from', h('input', { name: 'low_score', type: 'number', min: 0, max: 1, step: 0.05, value: state.low_score, placeholder: '0' })),
    field('Score to', h('input', { name: 'high_score', type: 'number', min: 0, max: 1, step: 0.05, value: state.high_score, placeholder: '1' })),
    field('Group attribute', h('input', { name: 'prop', value: state.prop || 'group', spellcheck: 'false', size: 8 })),
    field('Group', h('input', { name: 'prop_value', value: state.prop_value, spellcheck: 'false', size: 6, placeholder: 'any' })),
    h('div.filter-actions', h('button.primary', { type: 'submit' }, 'Apply'), h('button.secondary', { type: 'reset' }, 'Reset')),
  );
  const read = () => Object.fromEntries(['sample_state', 'label_name', 'low_score', 'high_score', 'prop', 'prop_value'].map((k) => [k, form.elements[k].value.trim()]));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const f = read();
    let bad = false;
    for (const k of ['low_score', 'high_score']) {
      if (f[k] !== '' && !(Number(f[k]) >= 0 && Number(f[k]) <= 1)) bad = fieldError(form, k, `${k} must be a number in [0, 1]`);
    }
    if (!bad && f.low_score !== '' && f.high_score !== '' && Number(f.low_score) > Number(f.high_score)) {
      bad = fieldError(form, 'high_score', 'high_score must not be below low_score');
    }
    if (!bad) onApply(f);
  });
  form.addEventListener('reset', () => setTimeout(() => form.requestSubmit(), 0));
  return form;
}

export function queryOf(f) {
  const q = { sample_state: f.sample_state, label_name: f.label_name, low_score: f.low_score, high_score: f.high_score };
  if (f.prop_value) q.search_conditions = [{ metadata: { props: { [f.prop || 'group']: [f.prop_value] } } }];
  return q;
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  const ds = await Api.getDataset(id);
  if (ctx.signal.aborted) return;
  ctx.title(ds.dataset_name);
  const q = ctx.query;
  const state = {
    sample_state: q.state || '',
    label_name: q.label || '',
    low_score: q.low || '',
    high_score: q.high || '',
    prop: q.prop || 'group',
    prop_value: q.value || '',
    page: Number(q.page) || 0,
    size: Number(q.size) || 50,
  };
  const results = h('div.results', spinner());
  let views = new AbortController();
  ctx.signal.addEventListener('abort', () => views.abort());

  async function load() {
    views.abort();
    views = new AbortController();
    ctx.replaceQuery({
      state: state.sample_state,
      label: state.label_name,
      low: state.low_score,
      high: state.high_score,
      prop: state.prop === 'group' ? '' : state.prop,
      value: state.prop_value,
      page: state.page || '',
      size: state.size === 50 ? '' : state.size,
    });
    try {
      const data = await Api.listSamples(id, { ...queryOf(state), limit: state.size, offset: state.page });
      if (ctx.signal.aborted) return;
      const paging = pager({
        total: data.sample_count,
        page: state.page,
        size: state.size,
        sizes: [20, 50, 100],
        label: 'samples',
        onChange: (page, size) => {
          Object.assign(state, { page, size });
          load();
        },
      });
      replace(results, paging, data.samples.length ? sampleGrid(id, data.samples, views.signal, {}, (s) => labelHref(id, s, state)) : emptyState('No sample matches these filters.'));
    } catch (ex) {
      replace(results, errorBox(ex));
    }
  }

  const forms = taskForms(id, (kind) => ctx.navigate(`/datasets/${encodeURIComponent(id)}/tasks`, { type: kind }), ctx.query.kind || 'auto-label');
  replace(
    ctx.root,
    datasetHeader(ds, ''),
    counters(ds),
    h(
      'div.split',
      h(
        'section.samples',
        { 'aria-labelledby': 'samples-h' },
        h('h2', { id: 'samples-h' }, 'Samples'),
        filterForm(ds, state, (f) => {
          Object.assign(state, f, { page: 0 });
          load();
        }),
        results,
      ),
      h('aside', { id: 'start-task' }, forms),
    ),
  );
  // Opened for a kind (e.g. "Start a task" on the task list): the form comes into view at once,
  // also on a phone where it sits below the samples.
  if (ctx.query.kind) {
    forms.scrollIntoView({ block: 'start' });
    forms.querySelector('input:checked')?.focus({ preventScroll: true });
  }
  await load();
}
