// Datasets of the project with their sample counters, and the create-dataset form.

import { Api } from '../lib/api.js';
import { checkbox, clearFieldErrors, errorBox, field, fieldError, h, replace, setError, spinner } from '../lib/dom.js';
import { DATASET_TYPES, counts, dateTime } from '../lib/format.js';
import { emptyState, pager } from '../lib/layout.js';

const NAME_RE = /^[A-Za-z0-9_-]+$/;

function datasetRow(ds) {
  const c = counts(ds);
  const base = `#/datasets/${encodeURIComponent(ds.dataset_id)}`;
  const num = (label, v, key) => h('td.num', { 'data-label': label, dataset: { col: key } }, String(v));
  return h(
    'tr',
    { dataset: { datasetId: ds.dataset_id } },
    h('td', { 'data-label': 'Name' }, h('a.strong', { href: base }, ds.dataset_name), ds.description ? h('div.muted.small', ds.description) : null),
    h('td', { 'data-label': 'Type' }, DATASET_TYPES[ds.dataset_type] || `type ${ds.dataset_type}`),
    num('Samples', c.total, 'total'),
    num('Labeled', c.labeled, 'labeled'),
    num('Unlabeled', c.unlabeled, 'unlabeled'),
    num('To be confirmed', c.unconfirmed, 'unconfirmed'),
    h('td', { 'data-label': 'Created' }, dateTime(ds.create_time)),
    h(
      'td.actions',
      { 'data-label': 'Open' },
      h('a', { href: `${base}/tasks` }, 'Tasks'),
      h('a', { href: `${base}/review` }, 'Review'),
    ),
  );
}

function createForm(ctx) {
  const name = h('input', { name: 'dataset_name', required: true, maxlength: 100, spellcheck: 'false', placeholder: 'flowers_2024' });
  const path = h('input', { name: 'data_path', required: true, spellcheck: 'false', placeholder: '/srv/images/flowers' });
  const type = h(
    'select',
    { name: 'dataset_type' },
    h('option', { value: '0' }, 'Images (classification)'),
    h('option', { value: '100' }, 'Text (classification)'),
  );
  const err = errorBox(null);
  const submit = h('button.primary', { type: 'submit' }, 'Create dataset');
  const form = h(
    'form.stack',
    { novalidate: true, 'aria-label': 'Create a dataset' },
    field('Name', name, 'Letters, digits, - and _ only.'),
    field('Directory on the server', path, 'Images (jpg, png, bmp, gif, webp, tif) and .txt files below it are imported.'),
    field('Type', type),
    checkbox('import_annotations', 'Import annotations (a sub-folder name becomes the label; *.manifest files are read)', true),
    err,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    setError(err, null);
    let bad = false;
    if (!NAME_RE.test(name.value)) bad = fieldError(form, 'dataset_name', 'dataset_name may contain only letters, digits, - and _ (1-100 characters)');
    if (!path.value.trim()) bad = fieldError(form, 'data_path', 'data_sources.data_path is required: a directory on the server') || bad;
    if (bad) return;
    submit.disabled = true;
    submit.textContent = 'Importing…';
    try {
      const res = await Api.createDataset({
        dataset_name: name.value,
        dataset_type: Number(type.value),
        data_sources: [{ data_type: 0, data_path: path.value.trim() }],
        import_annotations: form.elements.import_annotations.checked,
      });
      if (res.import_task_id) await waitForImport(res.dataset_id, res.import_task_id, submit, err);
      ctx.navigate(`/datasets/${encodeURIComponent(res.dataset_id)}`);
    } catch (ex) {
      const target = /data_path|directory/i.test(ex.message) ? 'data_path' : /dataset_name|name/i.test(ex.message) ? 'dataset_name' : null;
      if (!target || !fieldError(form, target, ex.message)) setError(err, ex);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create dataset';
    }
  });
  return form;
}

/** Poll the import task the create queued, showing its progress on the button. */
async function waitForImport(datasetId, taskId, submit, err) {
  for (;;) {
    const t = await Api.getImportTask(datasetId, taskId);
    if (t.status === 'COMPLETED' || t.status === 'FAILED') {
      if (t.status === 'FAILED' || t.failed_file_count) {
        const skipped = (t.failures || []).slice(0, 5).map((f) => `${f.file}: ${f.reason}`).join('; ');
        setError(err, new Error(t.error_msg || `${t.failed_file_count} file(s) skipped: ${skipped}`));
      }
      return;
    }
    submit.textContent = `Importing… ${t.imported_sample_count}/${t.total_sample_count || '?'}`;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

export async function render(ctx) {
  ctx.title('Datasets');
  const state = { page: Number(ctx.query.page) || 0, size: Number(ctx.query.size) || 10, search: ctx.query.q || '' };
  const list = h('div', spinner());
  const search = h('input', { type: 'search', name: 'q', value: state.search, placeholder: 'Search by name', 'aria-label': 'Search datasets by name' });
  const details = h('details.panel.create', { open: ctx.query.create === '1' }, h('summary', 'Create a dataset'), createForm(ctx));

  async function load() {
    ctx.replaceQuery({ page: state.page || '', size: state.size === 10 ? '' : state.size, q: state.search });
    try {
      const data = await Api.listDatasets({ limit: state.size, offset: state.page, search_content: state.search });
      if (ctx.signal.aborted) return;
      if (!data.datasets.length) {
        replace(list, emptyState(state.search ? 'No dataset matches this name.' : 'No datasets yet.', 'Create one from a directory on the server below.'));
        return;
      }
      const heads = ['Name', 'Type', 'Samples', 'Labeled', 'Unlabeled', 'To be confirmed', 'Created', ''];
      replace(
        list,
        h(
          'div.table-wrap',
          h(
            'table.data.cards-on-phone',
            { 'aria-label': 'Datasets' },
            h('thead', h('tr', heads.map((t, i) => h(i >= 2 && i <= 5 ? 'th.num' : 'th', { scope: 'col' }, t)))),
            h('tbody', data.datasets.map(datasetRow)),
          ),
        ),
        pager({
          total: data.total_number,
          page: state.page,
          size: state.size,
          label: 'datasets',
          onChange: (page, size) => {
            Object.assign(state, { page, size });
            load();
          },
        }),
      );
    } catch (ex) {
      replace(list, errorBox(ex));
    }
  }

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.search = search.value.trim();
      state.page = 0;
      load();
    }, 250);
  });

  replace(
    ctx.root,
    h('header.page-head', h('div.title-row', h('h1', 'Datasets'), h('div.toolbar', search))),
    list,
    details,
  );
  await load();
}
