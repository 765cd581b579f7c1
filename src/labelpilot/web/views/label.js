// The labeling workspace: one sample at a time with its queue around it (unlabeled, to be
// confirmed, hard first, labeled, all; a label filter and a file-name search). Keyboard first:
// 1–9 and 0 pick the dataset's labels, → / Enter move on (Enter confirms a to-be-confirmed
// sample), ← goes back, Backspace clears, z undoes. Every change is written at once with
// PUT …/data-annotations/samples; only labels defined on the Labels page can be picked.

import { Api, ApiError, request } from '../lib/api.js';
import { checkbox, errorBox, field, h, replace, select, setError, spinner } from '../lib/dom.js';
import { plural, reasonText, score } from '../lib/format.js';
import { inkOn, labelIndex, labelOfKey } from '../lib/labels.js';
import { counters, datasetHeader, emptyState, setCounters } from '../lib/layout.js';
import { preview } from '../lib/thumbs.js';
import { boxEditor, isBox } from '../lib/boxes.js';

const PAGE = 50;
const UNDO_DEPTH = 50;
const STATE_TEXT = { UN_ANNOTATION: 'unlabeled', MANUAL_ANNOTATION: 'labeled', AUTO_ANNOTATION: 'to be confirmed' };

/** The queues: ListSamples filters, and whether labeling a sample takes it out of the queue. */
export const QUEUES = {
  unlabeled: { title: 'Unlabeled', query: { sample_state: '__NONE__' }, shrinks: true },
  unconfirmed: { title: 'To be confirmed', query: { sample_state: '__AUTO_ANNOTATION__' }, shrinks: true },
  hard: { title: 'Hard first (to be confirmed)', query: { sample_state: '__AUTO_ANNOTATION__', sort_by: 'hard_coefficient', order: 'desc' }, shrinks: true },
  labeled: { title: 'Labeled', query: { sample_state: '__ALL__' }, shrinks: false },
  all: { title: 'All samples', query: {}, shrinks: false },
};

/** The workspace queue that matches the sample grid's state filter (for "open" links). */
export const queueOfState = (state) => ({ __NONE__: 'unlabeled', __AUTO_ANNOTATION__: 'unconfirmed', __ALL__: 'labeled' })[state] || 'all';

const wireLabel = (lb) => {
  const out = { name: lb.name, type: lb.type ?? 0 };
  if (lb.score != null) out.score = lb.score; // an undo back to "to be confirmed" keeps the scores
  if (lb.property && Object.keys(lb.property).length) out.property = lb.property;
  return out;
};

function isHard(sample) {
  const v = sample.metadata?.['@modelarts:hard'];
  return v === 1 || v === true || v === '1';
}

function editable(el) {
  return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

export async function render(ctx) {
  const id = ctx.params.datasetId;
  let ds = await Api.getDataset(id);
  if (ctx.signal.aborted) return;
  ctx.title(`Label · ${ds.dataset_name}`);
  const detection = ds.dataset_type === 1;
  const q = ctx.query;
  const state = {
    queue: QUEUES[q.queue] ? q.queue : q.sample ? 'all' : 'unlabeled',
    label: q.label || '',
    name: q.name || '',
    multi: q.multi === '1',
    advance: q.advance !== '0',
    items: [],
    total: 0,
    pages: 0, // pages fetched (non-shrinking queues)
    exhausted: false,
    cur: 0,
  };
  const labels = () => ds.labels;
  let index = labelIndex(labels());
  const history = []; // {sid, name, before: {labels, status}, after, text}
  let chain = Promise.resolve(); // writes happen in order
  let writes = 0; // saved writes (their latency is shown, and read by the e2e test)
  const mediaCache = new Map(); // sid -> object URL or text (last few)

  const tiles = counters(ds, ['unlabeled', 'unconfirmed', 'labeled']);
  const status = h('p.status', { role: 'status', 'aria-live': 'polite' });
  const err = errorBox(null);
  const queueList = h('ol.queue-list', { 'aria-label': 'Queue' });
  const queueHead = h('p.queue-head.small.muted');
  const stage = h('section.stage', { 'aria-label': 'Sample', 'aria-live': 'off' }, spinner());
  const palette = h('div.palette', { role: 'group', 'aria-label': 'Labels' });
  const undoBtn = h('button.secondary', { type: 'button', disabled: true, on: { click: () => undo() } }, 'Undo (z)');
  const lastAction = h('p.small.muted.last-action');

  // --- toolbar: queue, filters, modes ------------------------------------------------------
  const queueSelect = select('queue', Object.entries(QUEUES).map(([k, v]) => [k, v.title]), state.queue);
  const labelSelect = select('label', [['', 'Any label'], ...labels().map((l) => [l.name, l.name])], state.label);
  const nameInput = h('input', { name: 'name', type: 'search', value: state.name, placeholder: 'e.g. img_001.png', spellcheck: 'false', size: 14 });
  const multiBox = checkbox('multi', 'Several labels per sample', state.multi);
  const advanceBox = checkbox('advance', 'Next sample after a pick', state.advance);
  const toolbar = h(
    'form.filters.label-filters',
    { 'aria-label': 'Queue', novalidate: true },
    field('Queue', queueSelect),
    field('Label', labelSelect),
    field('File name', nameInput),
    h('div.filter-actions', h('button.secondary', { type: 'submit' }, 'Show')),
    detection ? null : multiBox,
    detection ? null : advanceBox,
  );
  toolbar.addEventListener('submit', (e) => {
    e.preventDefault();
    state.queue = queueSelect.value;
    state.label = labelSelect.value;
    state.name = nameInput.value.trim();
    reload();
  });
  queueSelect.addEventListener('change', () => toolbar.requestSubmit());
  labelSelect.addEventListener('change', () => toolbar.requestSubmit());
  advanceBox.hidden = state.multi; // several labels: the sample stays until you move on
  multiBox.querySelector('input').addEventListener('change', (e) => {
    state.multi = e.target.checked;
    advanceBox.hidden = state.multi;
    syncAddress();
    drawPalette();
  });
  advanceBox.querySelector('input').addEventListener('change', (e) => {
    state.advance = e.target.checked;
    syncAddress();
  });

  function syncAddress() {
    const s = state.items[state.cur];
    ctx.replaceQuery({
      queue: state.queue,
      label: state.label,
      name: state.name,
      multi: state.multi ? '1' : '',
      advance: state.advance ? '' : '0',
      sample: s ? s.sample_id : '',
    });
  }

  // --- the queue ---------------------------------------------------------------------------
  function listQuery() {
    const def = QUEUES[state.queue];
    const query = { ...def.query, limit: PAGE };
    if (state.label) query.label_name = state.label;
    if (state.name) query.search_conditions = [{ sample_name: state.name }];
    return query;
  }

  /** Fetch more of the queue: new samples are appended to the local list (seen ones stay). */
  async function fetchMore() {
    if (state.exhausted) return 0;
    const def = QUEUES[state.queue];
    const seen = new Set(state.items.map((s) => s.sample_id));
    // A shrinking queue loses the samples labeled here: read it again from the start.
    for (let page = def.shrinks ? 0 : state.pages; ; page += 1) {
      const data = await Api.listSamples(id, { ...listQuery(), offset: page });
      if (ctx.signal.aborted) return 0;
      state.total = data.sample_count;
      const fresh = data.samples.filter((s) => !seen.has(s.sample_id));
      if (!def.shrinks) state.pages = page + 1;
      if (fresh.length || data.samples.length < PAGE) {
        state.items.push(...fresh);
        if (data.samples.length < PAGE) state.exhausted = true;
        if (fresh.length) return fresh.length;
        return 0;
      }
    }
  }

  async function reload(openSid) {
    Object.assign(state, { items: [], total: 0, pages: 0, exhausted: false, cur: 0 });
    replace(stage, spinner());
    setError(err, null);
    try {
      await fetchMore();
      if (openSid) {
        let i = state.items.findIndex((s) => s.sample_id === openSid);
        if (i < 0) {
          const one = await Api.getSample(id, openSid).catch(() => null);
          if (one) {
            state.items.unshift(one);
            i = 0;
          }
        }
        state.cur = Math.max(0, i);
      }
    } catch (ex) {
      if (ctx.signal.aborted) return;
      replace(stage, errorBox(ex));
      return;
    }
    drawQueue();
    show();
  }

  function drawQueue() {
    const def = QUEUES[state.queue];
    queueHead.textContent = `${def.title}: ${plural(state.total, 'sample')}${state.name ? ` named ${state.name}` : ''}${state.label ? ` with ${state.label}` : ''}`;
    replace(
      queueList,
      state.items.map((s, i) =>
        h(
          'li',
          { dataset: { sampleId: s.sample_id, state: s.sample_status }, class: i === state.cur ? 'current' : null, 'aria-current': i === state.cur ? 'true' : null },
          h(
            'button.queue-item',
            { type: 'button', tabindex: -1, title: s.sample_name, 'aria-label': `Open ${s.sample_name}`, on: { click: () => go(i) } },
            preview(id, s, ctx.signal),
            h('span.queue-mark', { 'aria-hidden': 'true' }, s.sample_status === 'MANUAL_ANNOTATION' ? '✓' : ''),
          ),
        ),
      ),
      state.exhausted ? null : h('li.more', h('button.secondary.small', { type: 'button', on: { click: () => more() } }, 'Load more')),
    );
    scrollQueue();
  }

  /** Bring the current sample into the queue's view (the queue scrolls, never the page). */
  function scrollQueue() {
    const li = queueList.querySelector('li.current');
    if (!li) return;
    const l = queueList;
    const [top, left] = [li.offsetTop, li.offsetLeft];
    if (top < l.scrollTop) l.scrollTop = top;
    else if (top + li.offsetHeight > l.scrollTop + l.clientHeight) l.scrollTop = top + li.offsetHeight - l.clientHeight;
    if (left < l.scrollLeft) l.scrollLeft = left;
    else if (left + li.offsetWidth > l.scrollLeft + l.clientWidth) l.scrollLeft = left + li.offsetWidth - l.clientWidth;
  }

  function markQueue() {
    for (const li of queueList.querySelectorAll('li[data-sample-id]')) {
      const i = state.items.findIndex((s) => s.sample_id === li.dataset.sampleId);
      const s = state.items[i];
      li.classList.toggle('current', i === state.cur);
      if (i === state.cur) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
      li.dataset.state = s.sample_status;
      li.querySelector('.queue-mark').textContent = s.sample_status === 'MANUAL_ANNOTATION' ? '✓' : '';
    }
    scrollQueue();
  }

  async function more() {
    try {
      const n = await fetchMore();
      drawQueue();
      return n;
    } catch (ex) {
      setError(err, ex);
      return 0;
    }
  }

  async function go(i) {
    if (i < 0) return;
    if (i >= state.items.length) {
      const n = state.exhausted ? 0 : await more();
      if (!n) {
        status.textContent = 'End of the queue.';
        return;
      }
    }
    state.cur = i;
    markQueue();
    show();
  }

  // --- the sample --------------------------------------------------------------------------
  async function media(sample) {
    const sid = sample.sample_id;
    if (mediaCache.has(sid)) return mediaCache.get(sid);
    const res = await request(Api.sampleUrl(id, sid, 'content'), { signal: ctx.signal });
    const value = sample.sample_type === 1 ? await res.text() : URL.createObjectURL(await res.blob());
    mediaCache.set(sid, value);
    if (mediaCache.size > 12) {
      const [oldSid, old] = mediaCache.entries().next().value;
      mediaCache.delete(oldSid);
      if (typeof old === 'string' && old.startsWith('blob:') && oldSid !== sid) URL.revokeObjectURL(old);
    }
    return value;
  }

  function prefetch() {
    const next = state.items[state.cur + 1];
    if (next && (next.sample_type === 0 || next.sample_type === 1)) media(next).catch(() => {});
  }

  let editor = null; // the box editor of a detection sample

  function chips(sample) {
    const own = (sample.labels || []).filter((lb) => !isBox(lb));
    const boxes = (sample.labels || []).filter(isBox);
    if (detection) {
      if (!boxes.length) return h('span.chip.none', 'no box');
      const per = new Map();
      for (const b of boxes) per.set(b.name, (per.get(b.name) || 0) + 1);
      return [
        h('span.box-count', { dataset: { boxes: String(boxes.length) } }, `${plural(boxes.length, 'box', 'boxes')}:`),
        [...per].map(([n, c]) => {
          const color = index.get(n)?.color || '#4b5563';
          return h('span.chip.label-chip', { style: { background: color, color: inkOn(color) }, dataset: { label: n } }, c > 1 ? `${n} ×${c}` : n);
        }),
      ];
    }
    if (!own.length) return h('span.chip.none', 'no label');
    return own.map((lb) => {
      const info = index.get(lb.name);
      const color = info?.color || '#4b5563';
      return h('span.chip.label-chip', { style: { background: color, color: inkOn(color) }, dataset: { label: lb.name } }, lb.name, lb.score != null && sample.sample_status === 'AUTO_ANNOTATION' ? h('span.score', ` ${score(lb.score)}`) : null);
    });
  }

  async function show() {
    syncAddress();
    drawPalette();
    const sample = state.items[state.cur];
    if (!sample) {
      editor = null;
      delete stage.dataset.sampleId;
      replace(
        stage,
        emptyState(
          `Nothing in "${QUEUES[state.queue].title}".`,
          h('span', state.queue === 'unlabeled' ? 'Every sample has a label. ' : '', 'Choose another queue above, or go back to the ', h('a', { href: `#/datasets/${encodeURIComponent(id)}` }, 'samples'), '.'),
        ),
      );
      return;
    }
    stage.dataset.sampleId = sample.sample_id;
    const meta = sample.metadata || {};
    const hard = isHard(sample);
    const viewer = h('div.viewer', { class: sample.sample_type === 1 ? 'text' : null }, spinner('Loading the sample…'));
    const labelRow = h('div.current-labels', { 'aria-label': 'Labels of this sample' }, chips(sample));
    replace(
      stage,
      h(
        'div.stage-head',
        h('h2.sample-name', { title: sample.sample_name }, sample.sample_name),
        h('span.badge', { class: { MANUAL_ANNOTATION: 'good', AUTO_ANNOTATION: 'warn' }[sample.sample_status] || 'neutral', dataset: { state: sample.sample_status } }, STATE_TEXT[sample.sample_status] || sample.sample_status),
        h('span.position.small.muted', `${state.cur + 1} of ${Math.max(state.total, state.items.length)}`),
      ),
      viewer,
      labelRow,
      hard
        ? h(
            'div.hard.small',
            h('span.badge.warn', 'Hard example'),
            meta['@modelarts:hard_coefficient'] != null ? ` coefficient ${score(meta['@modelarts:hard_coefficient'])}` : null,
            (meta['@modelarts:hard_reasons'] || []).length ? h('ul.reasons', meta['@modelarts:hard_reasons'].map((r) => h('li', reasonText(r)))) : null,
          )
        : null,
      h(
        'div.stage-nav',
        h('button.secondary', { type: 'button', disabled: state.cur === 0, on: { click: () => go(state.cur - 1) } }, '‹ Previous'),
        sample.sample_status === 'AUTO_ANNOTATION' ? h('button.primary', { type: 'button', on: { click: () => confirmAndNext() } }, 'Confirm (Enter)') : null,
        h('button.secondary', { type: 'button', on: { click: () => go(state.cur + 1) } }, 'Next ›'),
      ),
    );
    editor = null;
    try {
      if (sample.sample_type === 1) {
        const text = await media(sample);
        if (state.items[state.cur] !== sample) return;
        replace(viewer, h('div.text-sample', { tabindex: 0, 'aria-label': 'Text of the sample' }, text || '(empty)'));
      } else if (sample.sample_type === 0) {
        const url = await media(sample);
        if (state.items[state.cur] !== sample) return;
        if (detection) {
          editor = boxEditor({
            url,
            sample,
            name: sample.sample_name,
            colorOf: (n) => index.get(n)?.color || '#4b5563',
            typeOf: (n) => index.get(n)?.label.type,
            activeLabel: () => activeLabel,
            onChange: (boxes, text) => saveBoxes(sample, boxes, text),
            onSelect: () => drawPalette(),
            onError: (message) => setError(err, new Error(message)),
          });
          replace(viewer, editor.element);
        } else {
          const img = h('img.sample-image', { src: url, alt: sample.sample_name });
          img.addEventListener('load', () => {
            if (img.naturalWidth < 160) img.classList.add('pixel');
          });
          replace(viewer, img);
        }
      } else {
        replace(viewer, h('p.muted', 'This kind of sample cannot be shown here.'));
      }
    } catch (ex) {
      if (ex.name === 'AbortError') return;
      replace(viewer, errorBox(ex));
    }
    prefetch();
  }

  function refreshCurrent() {
    const sample = state.items[state.cur];
    if (!sample) return;
    const row = stage.querySelector('.current-labels');
    if (row) replace(row, chips(sample));
    const badge = stage.querySelector('.stage-head .badge');
    if (badge) {
      badge.className = `badge ${{ MANUAL_ANNOTATION: 'good', AUTO_ANNOTATION: 'warn' }[sample.sample_status] || 'neutral'}`;
      badge.dataset.state = sample.sample_status;
      badge.textContent = STATE_TEXT[sample.sample_status] || sample.sample_status;
    }
    const nav = stage.querySelector('.stage-nav .primary');
    if (nav && sample.sample_status !== 'AUTO_ANNOTATION') nav.remove();
    drawPalette();
    markQueue();
  }

  // --- the label palette -------------------------------------------------------------------
  let activeLabel = labels()[0]?.name ?? null; // detection: the label new boxes get

  function drawPalette() {
    const sample = state.items[state.cur];
    const own = new Set((sample?.labels || []).filter((lb) => !isBox(lb)).map((lb) => lb.name));
    const selectedBox = editor?.selected();
    if (!labels().length) {
      replace(
        palette,
        h('h2', 'Labels'),
        h('p.muted', 'This dataset has no labels yet. ', h('a', { href: `#/datasets/${encodeURIComponent(id)}/labels` }, 'Define its labels'), ' first: only defined labels can be picked here.'),
      );
      return;
    }
    replace(
      palette,
      h('h2', 'Labels'),
      h(
        'ul.palette-list',
        labels().map((lb, i) => {
          const info = index.get(lb.name);
          const on = detection ? (selectedBox ? selectedBox.name === lb.name : activeLabel === lb.name) : own.has(lb.name);
          return h(
            'li',
            h(
              'button.pick',
              {
                type: 'button',
                'aria-pressed': String(on),
                dataset: { label: lb.name },
                style: { '--label-color': info.color },
                on: { click: () => pick(i) },
              },
              h('span.key', { 'aria-hidden': info.key ? null : 'true' }, info.key ?? ''),
              h('span.swatch', { style: { background: info.color }, 'aria-hidden': 'true' }),
              h('span.label-name', lb.name),
            ),
          );
        }),
      ),
      h('p.small.muted', detection ? 'Drag on the image to draw a box with the chosen label; drag a box to move it, its corners to resize; Delete removes the selected box.' : state.multi ? 'A number toggles its label.' : 'A number gives the sample that label.', ' ', h('a', { href: `#/datasets/${encodeURIComponent(id)}/labels` }, 'Manage labels')),
    );
  }

  // --- writes and undo ---------------------------------------------------------------------
  const snapshot = (s) => ({ labels: (s.labels || []).map((lb) => ({ ...lb })), status: s.sample_status });

  /** Write `labels` for `sample` (final unless `final` is false); optimistic, reverted on failure. */
  function write(sample, labelsOut, { final = true, undoable = true, text }) {
    const before = snapshot(sample);
    sample.labels = labelsOut.map((lb) => ({ ...lb }));
    sample.sample_status = labelsOut.length ? (final ? 'MANUAL_ANNOTATION' : 'AUTO_ANNOTATION') : 'UN_ANNOTATION';
    if (undoable) {
      history.push({ sample, before, text });
      if (history.length > UNDO_DEPTH) history.shift();
    }
    const t0 = performance.now();
    syncUndo(`Saving: ${text}…`);
    refreshCurrent();
    const job = async () => {
      try {
        const res = await Api.updateSamples(id, [{ sample_id: sample.sample_id, labels: labelsOut.map(wireLabel) }], final ? {} : { final_annotation: false });
        const item = res.results?.[0];
        if (!res.success || (item && !item.success)) throw new ApiError(400, item?.error_code || res.error_code, item?.error_msg || res.error_msg || 'The labels were not saved');
        // From the key press (or click) to the saved answer, waits for earlier writes included.
        const ms = performance.now() - t0;
        writes += 1;
        Object.assign(lastAction.dataset, { writeMs: ms.toFixed(1), writes: String(writes) });
        lastAction.textContent = `Saved: ${text} (${Math.round(ms)} ms).`;
        setError(err, null);
        refreshCounters();
      } catch (ex) {
        if (ex.name === 'AbortError') return;
        sample.labels = before.labels;
        sample.sample_status = before.status;
        const i = history.findIndex((x) => x.sample === sample && x.text === text);
        if (i >= 0) history.splice(i, 1);
        syncUndo();
        refreshCurrent();
        setError(err, ex);
      }
    };
    chain = chain.then(job);
    return chain;
  }

  function syncUndo(text) {
    undoBtn.disabled = history.length === 0;
    const last = history[history.length - 1];
    lastAction.textContent = text || (last ? `Last: ${last.text}.` : '');
  }

  async function undo() {
    const last = history.pop();
    if (!last) {
      status.textContent = 'Nothing to undo.';
      return;
    }
    const { sample, before } = last;
    const i = state.items.indexOf(sample);
    if (i >= 0 && i !== state.cur) {
      state.cur = i;
      markQueue();
      await show();
    }
    status.textContent = `Undone: ${last.text}.`;
    await write(sample, before.labels, { final: before.status !== 'AUTO_ANNOTATION', undoable: false, text: `undo of ${last.text}` });
    if (editor && state.items[state.cur] === sample) editor.setBoxes(sample.labels.filter(isBox));
  }

  let countersTimer = 0;
  function refreshCounters() {
    clearTimeout(countersTimer);
    countersTimer = setTimeout(async () => {
      try {
        ds = await Api.getDataset(id);
        if (!ctx.signal.aborted) setCounters(tiles, ds);
      } catch {
        /* the counters catch up on the next write */
      }
    }, 600);
  }
  ctx.signal.addEventListener('abort', () => clearTimeout(countersTimer));

  function pick(i) {
    const lb = labels()[i];
    const sample = state.items[state.cur];
    if (!lb) return;
    if (detection) {
      activeLabel = lb.name;
      if (editor?.selected()) editor.relabelSelected(lb.name);
      drawPalette();
      return;
    }
    if (!sample) return;
    const own = (sample.labels || []).filter((x) => !isBox(x));
    const mine = { name: lb.name, type: lb.type };
    let next;
    let text;
    if (state.multi) {
      const has = own.some((x) => x.name === lb.name);
      next = has ? own.filter((x) => x.name !== lb.name) : [...own.map((x) => ({ name: x.name, type: x.type })), mine];
      text = `${has ? 'removed' : 'added'} "${lb.name}" ${has ? 'from' : 'to'} ${sample.sample_name}`;
    } else {
      next = [mine];
      text = `"${lb.name}" on ${sample.sample_name}`;
    }
    write(sample, next, { text });
    if (!state.multi && state.advance) go(state.cur + 1);
  }

  function confirmAndNext() {
    const sample = state.items[state.cur];
    if (sample && sample.sample_status === 'AUTO_ANNOTATION') {
      const kept = (sample.labels || []).map((lb) => ({ name: lb.name, type: lb.type, property: lb.property }));
      write(sample, kept, { text: `confirmed ${sample.sample_name}` });
    }
    go(state.cur + 1);
  }

  function clearLabels() {
    const sample = state.items[state.cur];
    if (!sample || !(sample.labels || []).length) return;
    write(sample, [], { text: `cleared ${sample.sample_name}` });
  }

  function saveBoxes(sample, boxes, text) {
    const others = (sample.labels || []).filter((lb) => !isBox(lb)).map((lb) => ({ name: lb.name, type: lb.type }));
    write(sample, [...others, ...boxes], { text: `${text} on ${sample.sample_name}` });
  }

  function onKey(e) {
    if (e.altKey || e.metaKey || (e.ctrlKey && e.key.toLowerCase() !== 'z')) return;
    if (editable(e.target)) return;
    const k = e.key;
    if (/^[0-9]$/.test(k)) {
      const name = labelOfKey(index, k);
      if (name === null) return;
      pick(labels().findIndex((lb) => lb.name === name));
    } else if (k === 'ArrowRight' || k === 'ArrowDown') {
      go(state.cur + 1);
    } else if (k === 'ArrowLeft' || k === 'ArrowUp') {
      go(state.cur - 1);
    } else if (k === 'Enter') {
      if (e.target.closest && e.target.closest('button, a')) return; // the focused control's own Enter
      confirmAndNext();
    } else if (k === 'z' || k === 'Z') {
      undo();
    } else if (k === 'Delete' || k === 'Backspace') {
      if (editor?.selected()) editor.deleteSelected();
      else if (!detection) clearLabels();
      else return;
    } else if (k === 'Escape' && editor) {
      editor.select(null);
    } else {
      return;
    }
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey, { signal: ctx.signal });
  ctx.signal.addEventListener('abort', () => {
    for (const v of mediaCache.values()) if (typeof v === 'string' && v.startsWith('blob:')) URL.revokeObjectURL(v);
  });

  replace(
    ctx.root,
    datasetHeader(ds, '/label'),
    tiles,
    toolbar,
    status,
    err,
    h(
      'div.workspace',
      h('aside.queue', { 'aria-label': 'Queue of samples' }, queueHead, queueList),
      stage,
      h(
        'aside.side',
        palette,
        h('div.undo-row', undoBtn, lastAction),
        h('p.keys.small.muted', detection ? 'Keys: 1–9, 0 choose a label · Delete removes the selected box · Esc deselects · → / Enter next · ← previous · z undo' : 'Keys: 1–9, 0 pick a label · → next · Enter confirms and moves on · ← previous · Backspace clears · z undo'),
      ),
    ),
  );
  await reload(q.sample);
  index = labelIndex(labels());
}
