// A grid of sample cards (thumbnail or text snippet, labels with scores).

import { h } from './dom.js';
import { score } from './format.js';
import { preview } from './thumbs.js';

const STATE_TEXT = { UN_ANNOTATION: 'unlabeled', MANUAL_ANNOTATION: 'labeled', AUTO_ANNOTATION: 'to be confirmed' };

export function labelChips(labels = []) {
  if (!labels.length) return null;
  return labels.map((lb) =>
    h('span.chip', { title: lb.score != null ? `score ${score(lb.score)}` : null }, lb.name, lb.score != null ? h('span.score', ` ${score(lb.score)}`) : null),
  );
}

/** A sample's card; with `href` its thumbnail is a link (to the labeling workspace). */
export function sampleCard(datasetId, sample, signal, extra, href) {
  const state = STATE_TEXT[sample.sample_status] || sample.sample_status;
  const thumb = preview(datasetId, sample, signal);
  return h(
    'li.card',
    { dataset: { sampleId: sample.sample_id, state: sample.sample_status } },
    href ? h('a.thumb-link', { href, 'aria-label': `Label ${sample.sample_name}` }, thumb) : thumb,
    h('div.card-body', h('span.name', { title: sample.sample_name }, sample.sample_name), h('div.chips', labelChips(sample.labels)), h('span.state', state), extra || null),
  );
}

/** `hrefOf(sample)`: where a click on a thumbnail goes (none when omitted). */
export function sampleGrid(datasetId, samples, signal, attrs = {}, hrefOf = null) {
  return h('ul.grid', { 'aria-label': 'Samples', ...attrs }, samples.map((s) => sampleCard(datasetId, s, signal, null, hrefOf ? hrefOf(s) : null)));
}

/** The workspace address that opens `sample` in the queue matching a grid's state / label filter. */
export function labelHref(datasetId, sample, { sample_state: st = '', label_name: label = '' } = {}) {
  const queue = { __NONE__: 'unlabeled', __AUTO_ANNOTATION__: 'unconfirmed', __ALL__: 'labeled' }[st] || 'all';
  const q = new URLSearchParams({ queue, sample: sample.sample_id });
  if (label) q.set('label', label);
  return `#/datasets/${encodeURIComponent(datasetId)}/label?${q}`;
}
