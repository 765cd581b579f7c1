// Pieces shared by pages: the dataset header with its tabs, counters, pagination, badges.

import { h } from './dom.js';
import { STATUS, counts, percent } from './format.js';

const TABS = [
  ['', 'Samples'],
  ['/label', 'Label'],
  ['/labels', 'Labels'],
  ['/tasks', 'Tasks'],
  ['/review', 'Review'],
  ['/groups', 'Groups'],
];

export function datasetHeader(ds, active, extra) {
  const base = `#/datasets/${encodeURIComponent(ds.dataset_id)}`;
  return h(
    'header.page-head',
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/datasets' }, 'Datasets'), ' / ', ds.dataset_name),
    h('div.title-row', h('h1', ds.dataset_name), extra || null),
    h(
      'nav.tabs',
      { 'aria-label': 'Dataset pages' },
      TABS.map(([suffix, text]) =>
        h('a', { href: base + suffix, 'aria-current': suffix === active ? 'page' : null }, text),
      ),
    ),
  );
}

/** Counter tiles for a dataset; update later with setCounters(el, ds). */
export function counters(ds, keys = ['total', 'labeled', 'unlabeled', 'unconfirmed']) {
  const titles = { total: 'Samples', labeled: 'Labeled', unlabeled: 'Unlabeled', unconfirmed: 'To be confirmed' };
  const c = counts(ds);
  return h(
    'div.counters',
    { 'aria-live': 'polite' },
    keys.map((k) => h('div.counter', { dataset: { counter: k } }, h('span.value', String(c[k])), h('span.label', titles[k]))),
  );
}

export function setCounters(el, ds) {
  const c = counts(ds);
  for (const tile of el.querySelectorAll('[data-counter]')) {
    tile.querySelector('.value').textContent = String(c[tile.dataset.counter]);
  }
}

export function statusBadge(status) {
  const s = STATUS[status] || { text: `status ${status}`, tone: 'neutral' };
  return h(`span.badge.${s.tone}`, { dataset: { status: String(status) } }, s.text);
}

export function progressBar(value, label = 'Progress') {
  const v = Math.max(0, Math.min(100, Number(value) || 0));
  return h(
    'div.progress-wrap',
    h(
      'div.progress',
      { role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': v.toFixed(0) },
      h('span', { style: { width: `${v}%` } }),
    ),
    h('span.pct', percent(v)),
  );
}

/**
 * Pagination: "1–10 of 42", previous / next, page x of y, page size selector.
 * onChange(page, size) is called with a 0-based page index (the API's offset).
 */
export function pager({ total, page, size, sizes = [10, 20, 50, 100], onChange, label = 'rows' }) {
  const pages = Math.max(1, Math.ceil(total / size));
  const first = total ? page * size + 1 : 0;
  const last = Math.min(total, (page + 1) * size);
  const sizeSelect = h(
    'select',
    { 'aria-label': 'Page size', on: { change: (e) => onChange(0, Number(e.target.value)) } },
    sizes.map((n) => h('option', { value: n, selected: n === size }, `${n} per page`)),
  );
  return h(
    'nav.pager',
    { 'aria-label': 'Pagination' },
    h('span.range', total ? `${first}–${last} of ${total} ${label}` : `0 ${label}`),
    h('button', { type: 'button', disabled: page <= 0, on: { click: () => onChange(page - 1, size) } }, '‹ Previous'),
    h('span.page-no', `Page ${Math.min(page + 1, pages)} of ${pages}`),
    h('button', { type: 'button', disabled: page + 1 >= pages, on: { click: () => onChange(page + 1, size) } }, 'Next ›'),
    sizeSelect,
  );
}

export function emptyState(title, ...body) {
  return h('div.empty', h('p.empty-title', title), ...body);
}
