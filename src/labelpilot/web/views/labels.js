// Label management: a dataset's labels with colour, keyboard key and counts; define, rename,
// recolour and delete them (asking what to do with the labeled samples, per delete_policy).
// Endpoints: POST/PUT …/data-annotations/labels, PUT …/labels/{name}, POST …/labels/delete.

import { Api, api } from '../lib/api.js';
import { errorBox, field, h, replace, setError, spinner } from '../lib/dom.js';
import { plural } from '../lib/format.js';
import { COLOR_KEY, inkOn, labelIndex } from '../lib/labels.js';
import { datasetHeader, emptyState } from '../lib/layout.js';

const base = (id) => `/datasets/${encodeURIComponent(id)}/data-annotations`;

const POLICIES = [
  [0, 'Only remove the label', 'Samples keep their other labels; a sample left without any becomes unlabeled.'],
  [1, 'Also delete the samples left without a label', 'Samples that carried only this label are deleted from the dataset.'],
  [2, 'Also delete those samples and their stored files', 'As above, and the copies LabelPilot stored are deleted too (import source folders are never touched).'],
];

/** A batch answer with one item: throw its error when it failed. */
function checkBatch(res) {
  const item = res?.results?.[0];
  if (res && res.success === false) {
    const e = new Error(item?.error_msg || res.error_msg || 'The change was refused');
    e.code = item?.error_code || res.error_code;
    throw e;
  }
  return res;
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  let ds = await Api.getDataset(id);
  if (ctx.signal.aborted) return;
  ctx.title(`Labels · ${ds.dataset_name}`);
  const status = h('p.status', { role: 'status', 'aria-live': 'polite' });
  const err = errorBox(null);
  const area = h('div', spinner());
  const dialog = h('dialog.confirm', { 'aria-labelledby': 'delete-h' });

  async function load() {
    try {
      const [fresh, stats] = await Promise.all([Api.getDataset(id), api(`${base(id)}/stats`)]);
      if (ctx.signal.aborted) return;
      ds = fresh;
      const counts = new Map((stats.label_stats || []).map((s) => [s.name, s]));
      draw(counts);
    } catch (ex) {
      if (!ctx.signal.aborted) replace(area, errorBox(ex));
    }
  }

  function draw(counts) {
    const index = labelIndex(ds.labels);
    if (!ds.labels.length) {
      replace(area, emptyState('No labels yet.', 'Define the labels of this dataset above; the labeling workspace offers exactly these.'));
      return;
    }
    replace(
      area,
      h(
        'div.table-wrap',
        h(
          'table.data.labels-table.cards-on-phone',
          h('thead', h('tr', h('th', 'Colour'), h('th', 'Label'), h('th', 'Key'), h('th.num', 'Samples'), h('th.num', 'Instances'), h('th', h('span.sr-only', 'Actions')))),
          h(
            'tbody',
            ds.labels.map((lb) => row(lb, index.get(lb.name), counts.get(lb.name))),
          ),
        ),
      ),
    );
  }

  function row(lb, info, count) {
    const tr = h('tr', { dataset: { label: lb.name } });
    const color = h('input', {
      type: 'color',
      value: info.color,
      'aria-label': `Colour of ${lb.name}`,
      on: { change: (e) => recolour(lb, e.target.value) },
    });
    const nameCell = h('td', { dataset: { label: 'Label' } });
    const showName = () =>
      replace(
        nameCell,
        h('span.label-chip.chip', { style: { background: info.color, color: inkOn(info.color) } }, lb.name),
      );
    showName();
    const renameBtn = h('button.secondary.small', { type: 'button', 'aria-label': `Rename ${lb.name}` }, 'Rename');
    renameBtn.addEventListener('click', () => {
      const input = h('input', { value: lb.name, 'aria-label': `New name for ${lb.name}`, spellcheck: 'false', maxlength: 256, size: 14 });
      const form = h(
        'form.rename',
        { novalidate: true },
        input,
        h('button.primary.small', { type: 'submit' }, 'Save'),
        h('button.secondary.small', { type: 'button', on: { click: showName } }, 'Cancel'),
      );
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        rename(lb, input.value.trim(), input);
      });
      replace(nameCell, form);
      input.focus();
      input.select();
    });
    const deleteBtn = h('button.danger.small', { type: 'button', 'aria-label': `Delete ${lb.name}`, on: { click: () => askDelete(lb, count) } }, 'Delete');
    return append(tr, [
      h('td', { dataset: { label: 'Colour' } }, color),
      nameCell,
      h('td', { dataset: { label: 'Key' } }, info.key ? h('kbd', info.key) : h('span.muted', '—')),
      h('td.num', { dataset: { label: 'Samples', col: 'samples' } }, String(count?.sample_count ?? 0)),
      h('td.num', { dataset: { label: 'Instances', col: 'instances' } }, String(count?.count ?? 0)),
      h('td.actions', { dataset: { label: 'Actions' } }, renameBtn, ' ', deleteBtn),
    ]);
  }

  function append(el, children) {
    for (const c of children) el.append(c);
    return el;
  }

  async function recolour(lb, value) {
    setError(err, null);
    try {
      await api(`${base(id)}/labels/${encodeURIComponent(lb.name)}`, { method: 'PUT', body: { [COLOR_KEY]: value }, query: { label_type: lb.type } });
      status.textContent = `"${lb.name}" is now ${value}.`;
      await load();
    } catch (ex) {
      setError(err, ex);
    }
  }

  async function rename(lb, name, input) {
    setError(err, null);
    if (!name) {
      setError(err, new Error('Give the new name of the label.'));
      input.focus();
      return;
    }
    if (name === lb.name) {
      await load();
      return;
    }
    if (ds.labels.some((x) => x.name === name)) {
      setError(err, new Error(`There is already a label "${name}": pick another name.`));
      input.focus();
      return;
    }
    try {
      await api(`${base(id)}/labels/${encodeURIComponent(lb.name)}`, { method: 'PUT', body: { '@modelarts:rename_to': name }, query: { label_type: lb.type } });
      status.textContent = `Renamed "${lb.name}" to "${name}" on every sample.`;
      await load();
    } catch (ex) {
      setError(err, ex);
    }
  }

  function askDelete(lb, count) {
    const n = count?.sample_count ?? 0;
    const choices = POLICIES.map(([value, title, hint]) =>
      h('label.policy', h('input', { type: 'radio', name: 'delete_policy', value, checked: value === 0 }), h('span', h('strong', title), h('span.hint', hint))),
    );
    const dlgErr = errorBox(null);
    const confirmBtn = h('button.danger', { type: 'submit' }, `Delete "${lb.name}"`);
    const form = h(
      'form.stack',
      { method: 'dialog', novalidate: true },
      h('h2', { id: 'delete-h' }, `Delete the label "${lb.name}"?`),
      h('p', n ? `${plural(n, 'sample')} carry it. What should happen to them?` : 'No sample carries it.'),
      h('fieldset', h('legend', 'Labeled samples'), choices),
      dlgErr,
      h('div.dialog-actions', h('button.secondary', { type: 'button', value: 'cancel', on: { click: () => dialog.close() } }, 'Cancel'), confirmBtn),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const policy = Number(form.elements.delete_policy.value);
      confirmBtn.disabled = true;
      try {
        const res = await api(`${base(id)}/labels/delete`, { method: 'POST', body: { labels: [{ name: lb.name, type: lb.type }] }, query: { delete_policy: policy } });
        checkBatch(res);
        dialog.close();
        status.textContent = `Deleted "${lb.name}"${n ? ` (${['removed from', 'and the samples left without a label:', 'and the samples left without a label, with their files:'][policy]} ${plural(n, 'sample')})` : ''}.`;
        await load();
      } catch (ex) {
        setError(dlgErr, ex);
      } finally {
        confirmBtn.disabled = false;
      }
    });
    replace(dialog, form);
    dialog.showModal();
    form.querySelector('input[type=radio]').focus();
  }

  // --- define a label ----------------------------------------------------------------------
  const nameInput = h('input', { name: 'name', required: true, spellcheck: 'false', maxlength: 256, autocomplete: 'off' });
  const colorInput = h('input', { name: 'color', type: 'color', value: '#1d4ed8' });
  const addForm = h(
    'form.add-label',
    { novalidate: true, 'aria-label': 'Define a label' },
    field('New label', nameInput),
    field('Colour', colorInput),
    h('button.primary', { type: 'submit' }, 'Add label'),
  );
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    setError(err, null);
    const name = nameInput.value.trim();
    if (!name) {
      setError(err, new Error('Give the name of the new label.'));
      nameInput.focus();
      return;
    }
    if (ds.labels.some((x) => x.name === name)) {
      setError(err, new Error(`There is already a label "${name}".`));
      nameInput.focus();
      return;
    }
    try {
      checkBatch(await api(`${base(id)}/labels`, { method: 'POST', body: { labels: [{ name, property: { [COLOR_KEY]: colorInput.value } }] } }));
      status.textContent = `Added the label "${name}".`;
      nameInput.value = '';
      await load();
      nameInput.focus();
    } catch (ex) {
      setError(err, ex);
    }
  });

  replace(
    ctx.root,
    datasetHeader(ds, '/labels'),
    h(
      'section.panel',
      { 'aria-labelledby': 'labels-h' },
      h('div.title-row', h('h2', { id: 'labels-h' }, 'Labels'), h('a.button.secondary', { href: `#/datasets/${encodeURIComponent(id)}/label` }, 'Start labeling')),
      h('p.muted.small', 'The labeling workspace offers exactly these labels, with these keys and colours: a new class is created only here. A rename changes the label on every sample.'),
      addForm,
      status,
      err,
      area,
    ),
    dialog,
  );
  await load();
}
