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

export function sampleCard(datasetId, sample, signal, extra) {
  const state = STATE_TEXT[sample.sample_status] || sample.sample_status;
  return h(
    'li.card',
    { dataset: { sampleId: sample.sample_id, state: sample.sample_status } },
    preview(datasetId, sample, signal),
    h('div.card-body', h('span.name', { title: sample.sample_name }, sample.sample_name), h('div.chips', labelChips(sample.labels)), h('span.state', state), extra || null),
  );
}

export function sampleGrid(datasetId, samples, signal, attrs = {}) {
  return h('ul.grid', { 'aria-label': 'Samples', ...attrs }, samples.map((s) => sampleCard(datasetId, s, signal)));
}
