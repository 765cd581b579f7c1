// Thumbnails through the API (X-Auth-Token cannot ride on <img src>): fetched with the header,
// shown as blob URLs, at most 6 requests at a time, kept for the session in a small LRU cache.
// Images use the server-side JPEG thumbnail (?size=128); text samples show a snippet of /content.

import { Api, request } from './api.js';
import { h, replace } from './dom.js';

const MAX_PARALLEL = 6;
const MAX_CACHED = 800;
const cache = new Map(); // key -> object URL or text snippet
const queue = [];
let running = 0;

function remember(key, value) {
  cache.set(key, value);
  if (cache.size > MAX_CACHED) {
    const [oldKey, oldValue] = cache.entries().next().value;
    cache.delete(oldKey);
    if (typeof oldValue === 'string' && oldValue.startsWith('blob:')) URL.revokeObjectURL(oldValue);
  }
}

function pump() {
  while (running < MAX_PARALLEL && queue.length) {
    const job = queue.shift();
    if (job.signal?.aborted) continue;
    running += 1;
    job
      .run()
      .catch(() => job.fail())
      .finally(() => {
        running -= 1;
        pump();
      });
  }
}

function enqueue(run, fail, signal) {
  queue.push({ run, fail, signal });
  pump();
}

async function loadImage(path, key, signal) {
  if (cache.has(key)) return cache.get(key);
  const res = await request(path, { query: { size: 128 }, signal });
  const url = URL.createObjectURL(await res.blob());
  remember(key, url);
  return url;
}

async function loadSnippet(path, key, signal) {
  if (cache.has(key)) return cache.get(key);
  const res = await request(path, { signal });
  const text = (await res.text()).slice(0, 240);
  remember(key, text);
  return text;
}

const KIND = { 2: 'audio', 4: 'table', 6: 'video', 9: 'file' };

/** A square preview of a sample that fills itself in; `signal` cancels queued loads. */
export function preview(datasetId, sample, signal) {
  const box = h('div.thumb.pending');
  const name = sample.sample_name || sample.sample_id;
  const fail = () => {
    box.classList.remove('pending');
    replace(box, h('span.thumb-missing', 'no preview'));
  };
  if (sample.sample_type === 0) {
    const key = `img:${datasetId}:${sample.sample_id}`;
    const path = Api.sampleUrl(datasetId, sample.sample_id, 'thumbnail');
    const show = (url) => {
      const img = h('img', { src: url, alt: name, decoding: 'async' });
      img.addEventListener('load', () => {
        if (img.naturalWidth < 64) img.classList.add('pixel');
      });
      box.classList.remove('pending');
      replace(box, img);
    };
    if (cache.has(key)) show(cache.get(key));
    else enqueue(() => loadImage(path, key, signal).then(show), fail, signal);
  } else if (sample.sample_type === 1) {
    const key = `txt:${datasetId}:${sample.sample_id}`;
    const path = Api.sampleUrl(datasetId, sample.sample_id, 'content');
    const show = (text) => {
      box.classList.remove('pending');
      box.classList.add('text');
      replace(box, h('p.snippet', text || '(empty)'));
    };
    if (cache.has(key)) show(cache.get(key));
    else enqueue(() => loadSnippet(path, key, signal).then(show), fail, signal);
  } else {
    box.classList.remove('pending');
    replace(box, h('span.thumb-missing', KIND[sample.sample_type] || 'file'));
  }
  return box;
}
