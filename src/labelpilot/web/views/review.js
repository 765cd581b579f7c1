// Review "to be confirmed" samples: hard examples first (reasons in words), multi-select with
// mouse or keyboard (arrows move, Space selects, Enter confirms), confirm / change label / reject.

import { Api, updateSamplesChunked } from '../lib/api.js';
import { errorBox, h, replace, setError, spinner } from '../lib/dom.js';
import { plural, reasonText, score } from '../lib/format.js';
import { refuseUnknownLabel } from '../lib/labels.js';
import { counters, datasetHeader, emptyState, pager, setCounters } from '../lib/layout.js';
import { preview } from '../lib/thumbs.js';

const HARD = [{ hard: '1' }];
const NOT_HARD = [{ hard: '0' }];

/** Rows [from, to) of one filtered list, using page-index offsets of `size` rows. */
async function rowsOf(datasetId, conditions, from, to, size) {
  if (to <= from) return [];
  const firstPage = Math.floor(from / size);
  const lastPage = Math.floor((to - 1) / size);
  const pages = [];
  for (let p = firstPage; p <= lastPage; p += 1) {
    pages.push(Api.listAutoSamples(datasetId, { search_conditions: conditions, limit: size, offset: p, sort_by: 'hard_coefficient' }));
  }
  const rows = (await Promise.all(pages)).flatMap((d) => d.samples);
  return rows.slice(from - firstPage * size, to - firstPage * size);
}

/** One page of the to-be-confirmed list: hard examples first, each part by hard coefficient (server-side). */
async function fetchPage(datasetId, page, size) {
  const [hard, all] = await Promise.all([
    Api.listAutoSamples(datasetId, { search_conditions: HARD, limit: 1 }),
    Api.listAutoSamples(datasetId, { limit: 1 }),
  ]);
  const nHard = hard.sample_count;
  const start = page * size;
  const end = start + size;
  const [a, b] = await Promise.all([
    rowsOf(datasetId, HARD, start, Math.min(end, nHard), size),
    rowsOf(datasetId, NOT_HARD, Math.max(0, start - nHard), end - nHard, size),
  ]);
  return { total: all.sample_count, hard: nHard, samples: [...a, ...b] };
}

function isHard(sample) {
  const v = sample.metadata?.['@modelarts:hard'];
  return v === 1 || v === true || v === '1' || v === 1.0;
}

function reviewCard(datasetId, sample, signal) {
  const meta = sample.metadata || {};
  const hard = isHard(sample);
  const reasons = meta['@modelarts:hard_reasons'] || [];
  const predicted = sample.labels || [];
  return h(
    'li.card.review-card',
    { role: 'option', tabindex: -1, 'aria-selected': 'false', dataset: { sampleId: sample.sample_id, hard: hard ? '1' : '0' } },
    h('span.check', { 'aria-hidden': 'true' }, '✓'),
    preview(datasetId, sample, signal),
    h(
      'div.card-body',
      h('span.name', { title: sample.sample_name }, sample.sample_name),
      h(
        'div.prediction',
        predicted.length
          ? predicted.map((lb) => h('span.chip.predicted', lb.name, lb.score != null ? h('span.score', ` ${score(lb.score)}`) : null))
          : h('span.chip.none', 'no label'),
      ),
      hard
        ? h(
            'div.hard',
            h('span.badge.warn', 'Hard example'),
            meta['@modelarts:hard_coefficient'] != null ? h('span.small', ` coefficient ${score(meta['@modelarts:hard_coefficient'])}`) : null,
            reasons.length ? h('ul.reasons', reasons.map((r) => h('li', reasonText(r)))) : null,
          )
        : null,
    ),
  );
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  let ds = await Api.getDataset(id);
  if (ctx.signal.aborted) return;
  ctx.title(`Review · ${ds.dataset_name}`);
  const state = { page: Number(ctx.query.page) || 0, size: Number(ctx.query.size) || 20, samples: [], focus: 0 };
  const selected = new Set();
  const tiles = counters(ds, ['unconfirmed', 'labeled', 'unlabeled']);
  const status = h('p.status', { role: 'status', 'aria-live': 'polite' });
  const err = errorBox(null);
  const area = h('div', spinner());
  const count = h('span.selected-count', '0 selected');
  const labelInput = h('input', { list: 'review-labels', 'aria-label': 'New label', placeholder: 'label', size: 10, spellcheck: 'false' });
  const datalist = h('datalist', { id: 'review-labels' }, ds.labels.map((l) => h('option', { value: l.name })));
  const btn = (text, cls, fn, label) => h(`button.${cls}`, { type: 'button', 'aria-label': label || null, on: { click: fn } }, text);
  const confirmBtn = btn('Confirm', 'primary', () => act('confirm'));
  const changeBtn = btn('Change label', 'secondary', () => act('change'));
  const rejectBtn = btn('Reject', 'danger', () => act('reject'));
  let grid = null;
  let loads = new AbortController();
  ctx.signal.addEventListener('abort', () => loads.abort());

  function syncSelection() {
    count.textContent = `${selected.size} selected`;
    for (const b of [confirmBtn, changeBtn, rejectBtn]) b.disabled = selected.size === 0;
    if (!grid) return;
    for (const card of grid.children) {
      const on = selected.has(card.dataset.sampleId);
      card.setAttribute('aria-selected', String(on));
      card.classList.toggle('selected', on);
    }
  }

  function focusCard(i, move = true) {
    if (!grid || !grid.children.length) return;
    state.focus = Math.max(0, Math.min(grid.children.length - 1, i));
    [...grid.children].forEach((c, j) => {
      c.tabIndex = j === state.focus ? 0 : -1;
    });
    if (move) grid.children[state.focus].focus();
  }

  function columns() {
    const cards = [...grid.children];
    const top = cards[0]?.offsetTop;
    const n = cards.findIndex((c) => c.offsetTop !== top);
    return n === -1 ? cards.length : n;
  }

  function toggle(sid) {
    if (selected.has(sid)) selected.delete(sid);
    else selected.add(sid);
    syncSelection();
  }

  function onKey(e) {
    const card = e.target.closest('[role=option]');
    if (!card) return;
    const i = [...grid.children].indexOf(card);
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() };
    if (e.key in moves) {
      focusCard(i + moves[e.key]);
    } else if (e.key === 'Home') {
      focusCard(0);
    } else if (e.key === 'End') {
      focusCard(grid.children.length - 1);
    } else if (e.key === ' ') {
      toggle(card.dataset.sampleId);
    } else if (e.key === 'Enter') {
      if (!selected.size) selected.add(card.dataset.sampleId);
      act('confirm');
    } else if (e.key === 'a' && (e.ctrlKey || e.metaKey)) {
      selectPage();
    } else if (e.key === 'Escape') {
      selected.clear();
      syncSelection();
    } else {
      return;
    }
    e.preventDefault();
  }

  function selectPage() {
    for (const s of state.samples) selected.add(s.sample_id);
    syncSelection();
  }

  async function act(kind) {
    const ids = selected.size ? [...selected] : [];
    if (!ids.length) {
      setError(err, new Error('Select samples first: click them, or use the arrow keys and Space.'));
      return;
    }
    const byId = new Map(state.samples.map((s) => [s.sample_id, s]));
    const newLabel = labelInput.value.trim();
    if (kind === 'change' && !newLabel) {
      setError(err, new Error('Type or pick the label to give the selected samples.'));
      labelInput.focus();
      return;
    }
    if (kind === 'change' && refuseUnknownLabel(ds, newLabel, err, () => act('change'))) {
      labelInput.focus();
      return;
    }
    const labelType = (name) => ds.labels.find((l) => l.name === name)?.type;
    const items = ids.map((sid) => {
      if (kind === 'reject') return { sample_id: sid, labels: [] };
      if (kind === 'change') return { sample_id: sid, labels: [{ name: newLabel, type: labelType(newLabel) ?? 0 }] };
      const labels = (byId.get(sid)?.labels || []).map((l) => ({ name: l.name, type: l.type ?? 0 }));
      return { sample_id: sid, labels };
    });
    setError(err, null);
    for (const b of [confirmBtn, changeBtn, rejectBtn]) b.disabled = true;
    try {
      const res = await updateSamplesChunked(id, items);
      const verb = { confirm: 'Confirmed', change: `Labeled "${newLabel}":`, reject: 'Rejected' }[kind];
      status.textContent = `${verb} ${plural(res.ok, 'sample')}.`;
      if (res.failed.length) setError(err, new Error(`${plural(res.failed.length, 'sample')} failed: ${res.failed[0].error_msg}`));
      selected.clear();
      await load(true);
    } catch (ex) {
      setError(err, ex);
      syncSelection();
    }
  }

  async function load(keepFocus = false) {
    loads.abort();
    loads = new AbortController();
    ctx.replaceQuery({ page: state.page || '', size: state.size === 20 ? '' : state.size });
    try {
      const [data, fresh] = await Promise.all([fetchPage(id, state.page, state.size), Api.getDataset(id)]);
      if (ctx.signal.aborted) return;
      ds = fresh;
      setCounters(tiles, ds);
      const pages = Math.max(1, Math.ceil(data.total / state.size));
      if (state.page >= pages && state.page > 0) {
        state.page = pages - 1;
        return load(keepFocus);
      }
      state.samples = data.samples;
      for (const sid of [...selected]) if (!data.samples.some((s) => s.sample_id === sid)) selected.delete(sid);
      if (!data.samples.length) {
        grid = null;
        replace(area, emptyState('Nothing to confirm.', 'Samples labeled by auto-label or pre-label tasks wait here for review.'));
        syncSelection();
        return;
      }
      grid = h(
        'ul.grid.review-grid',
        { role: 'listbox', 'aria-multiselectable': 'true', 'aria-label': 'Samples to confirm', on: { keydown: onKey } },
        data.samples.map((s) => reviewCard(id, s, loads.signal)),
      );
      grid.addEventListener('click', (e) => {
        const card = e.target.closest('[role=option]');
        if (!card) return;
        focusCard([...grid.children].indexOf(card));
        toggle(card.dataset.sampleId);
      });
      replace(
        area,
        h('p.muted.small', data.hard ? `${plural(data.hard, 'hard example')} first. ` : '', 'Arrow keys move, Space selects, Enter confirms, Ctrl+A selects the page, Esc clears.'),
        grid,
        pager({
          total: data.total,
          page: state.page,
          size: state.size,
          label: 'samples',
          onChange: (page, size) => {
            Object.assign(state, { page, size });
            selected.clear();
            load();
          },
        }),
      );
      focusCard(keepFocus ? state.focus : 0, keepFocus);
      syncSelection();
    } catch (ex) {
      if (!ctx.signal.aborted) replace(area, errorBox(ex));
    }
  }

  const actions = h(
    'div.actionbar',
    { role: 'toolbar', 'aria-label': 'Review actions' },
    count,
    btn('Select page', 'secondary', selectPage),
    btn('Clear', 'secondary', () => {
      selected.clear();
      syncSelection();
    }),
    h('span.sep', { 'aria-hidden': 'true' }),
    confirmBtn,
    h('span.group', labelInput, datalist, changeBtn),
    rejectBtn,
  );

  replace(ctx.root, datasetHeader(ds, '/review'), tiles, actions, status, err, area);
  await load();
}
