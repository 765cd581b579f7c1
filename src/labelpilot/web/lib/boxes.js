// Object-detection boxes over an image: `bndbox` labels (`@modelarts:feature`
// [[xmin, ymin], [xmax, ymax]] in pixels of the image, as ModelArts and the importers store them).
// An SVG over the image in image coordinates: drag on the image to draw a box with the active
// label, drag a box to move it, drag a corner handle of the selected box to resize it. Each
// finished gesture reports the whole new box list through onChange (the caller saves it).

import { h } from './dom.js';

export const SHAPE = '@modelarts:shape';
export const FEATURE = '@modelarts:feature';
const SVG = 'http://www.w3.org/2000/svg';
const MIN_SIDE = 3; // image pixels: a smaller drag is a click, not a box

export const isBox = (lb) => lb?.property?.[SHAPE] === 'bndbox' && Array.isArray(lb.property[FEATURE]);

/** A box label as {name, type, score, x1, y1, x2, y2} (corners ordered), or null. */
export function boxOf(lb) {
  if (!isBox(lb)) return null;
  const [[a, b] = [], [c, d] = []] = lb.property[FEATURE];
  const v = [a, b, c, d].map(Number);
  if (v.some((n) => !Number.isFinite(n))) return null;
  return { name: lb.name, type: lb.type, score: lb.score ?? null, x1: Math.min(v[0], v[2]), y1: Math.min(v[1], v[3]), x2: Math.max(v[0], v[2]), y2: Math.max(v[1], v[3]), touched: false };
}

/** A box back to its wire label (integer pixel corners; the score only while untouched). */
export function labelOfBox(b) {
  const out = { name: b.name, type: b.type ?? 1, property: { [SHAPE]: 'bndbox', [FEATURE]: [[Math.round(b.x1), Math.round(b.y1)], [Math.round(b.x2), Math.round(b.y2)]] } };
  if (!b.touched && b.score != null) out.score = b.score;
  return out;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  return el;
}

/**
 * The editor. Options: url, sample (its labels give the first boxes), name (alt text),
 * colorOf(name), typeOf(name) (the label's wire type), activeLabel() (the label a new box gets, or null), onChange(labels, text),
 * onSelect(box|null), onError(message). Returns {element, selected, select, relabelSelected,
 * deleteSelected, setBoxes, boxes}.
 */
export function boxEditor({ url, sample, name, colorOf, typeOf, activeLabel, onChange, onSelect = () => {}, onError = () => {} }) {
  const auto = sample.sample_status === 'AUTO_ANNOTATION';
  let boxes = (sample.labels || []).map(boxOf).filter(Boolean);
  let sel = -1;
  let W = 0;
  let H = 0;
  const img = h('img.sample-image.box-image', { src: url, alt: name, draggable: 'false' });
  const layer = svg('svg', { class: 'box-layer', role: 'img', 'aria-label': `Boxes on ${name}` });
  const element = h('div.box-stage', img, layer);

  img.addEventListener('load', () => {
    W = img.naturalWidth;
    H = img.naturalHeight;
    layer.setAttribute('viewBox', `0 0 ${W} ${H}`);
    layer.setAttribute('preserveAspectRatio', 'none');
    if (W < 160) img.classList.add('pixel');
    // as large as the viewer allows, small images scaled up: boxes are easier to draw
    img.style.width = `min(100%, ${((56 * W) / Math.max(1, H)).toFixed(2)}vh)`;
    draw();
  });

  const clampX = (x) => Math.max(0, Math.min(W, x));
  const clampY = (y) => Math.max(0, Math.min(H, y));

  function toImage(e) {
    const r = layer.getBoundingClientRect();
    return { x: clampX(((e.clientX - r.left) * W) / r.width), y: clampY(((e.clientY - r.top) * H) / r.height) };
  }

  function draw() {
    layer.replaceChildren();
    const scale = W ? W / Math.max(1, layer.getBoundingClientRect().width || W) : 1; // image px per screen px
    const stroke = 2 * scale;
    boxes.forEach((b, i) => {
      const color = colorOf(b.name);
      const g = svg('g', { class: `box${i === sel ? ' selected' : ''}`, 'data-box': i, 'data-label': b.name });
      g.append(
        svg('rect', {
          class: 'box-rect',
          x: b.x1,
          y: b.y1,
          width: Math.max(0, b.x2 - b.x1),
          height: Math.max(0, b.y2 - b.y1),
          stroke: color,
          'stroke-width': i === sel ? stroke * 1.6 : stroke,
          'stroke-dasharray': auto && !b.touched && b.score != null ? `${6 * scale} ${4 * scale}` : null,
          fill: color,
          'fill-opacity': i === sel ? 0.22 : 0.1,
        }),
      );
      const tag = `${b.name}${!b.touched && b.score != null ? ` ${Number(b.score).toFixed(2)}` : ''}`;
      const fs = 12 * scale;
      const ty = b.y1 - 2 * scale >= fs ? b.y1 - 3 * scale : b.y1 + fs + 1 * scale;
      const text = svg('text', { class: 'box-tag', x: b.x1 + 2 * scale, y: ty, 'font-size': fs, fill: color, stroke: '#fff', 'stroke-width': 3 * scale, 'paint-order': 'stroke' });
      text.textContent = tag;
      g.append(text);
      if (i === sel) {
        for (const [cx, cy, corner] of [
          [b.x1, b.y1, 'nw'],
          [b.x2, b.y1, 'ne'],
          [b.x1, b.y2, 'sw'],
          [b.x2, b.y2, 'se'],
        ]) {
          const s = 9 * scale;
          g.append(svg('rect', { class: `handle ${corner}`, 'data-corner': corner, x: cx - s / 2, y: cy - s / 2, width: s, height: s, fill: '#fff', stroke: color, 'stroke-width': stroke }));
        }
      }
      layer.append(g);
    });
  }

  function report(text) {
    onChange(boxes.map(labelOfBox), text);
  }

  function select(i) {
    sel = i === null || i === undefined ? -1 : i;
    draw();
    onSelect(sel >= 0 ? boxes[sel] : null);
  }

  // --- pointer gestures --------------------------------------------------------------------
  let drag = null; // {mode: draw|move|resize, start, orig, corner, index}

  layer.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !W) return;
    e.preventDefault();
    const p = toImage(e);
    const handle = e.target.closest('[data-corner]');
    const g = e.target.closest('[data-box]');
    if (handle && g) {
      const i = Number(g.dataset.box);
      drag = { mode: 'resize', start: p, orig: { ...boxes[i] }, corner: handle.dataset.corner, index: i };
    } else if (g) {
      const i = Number(g.dataset.box);
      if (i !== sel) select(i);
      drag = { mode: 'move', start: p, orig: { ...boxes[i] }, index: i };
    } else {
      const label = activeLabel();
      if (!label) {
        onError('Pick a label first (a number key or a label button), then draw its box.');
        return;
      }
      boxes.push({ name: label, type: typeOf(label) ?? 1, score: null, x1: p.x, y1: p.y, x2: p.x, y2: p.y, touched: true });
      drag = { mode: 'draw', start: p, index: boxes.length - 1 };
      sel = drag.index;
    }
    layer.setPointerCapture(e.pointerId);
  });

  layer.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const p = toImage(e);
    const b = boxes[drag.index];
    if (drag.mode === 'draw') {
      Object.assign(b, { x1: Math.min(drag.start.x, p.x), y1: Math.min(drag.start.y, p.y), x2: Math.max(drag.start.x, p.x), y2: Math.max(drag.start.y, p.y) });
    } else if (drag.mode === 'move') {
      const o = drag.orig;
      const dx = Math.max(-o.x1, Math.min(W - o.x2, p.x - drag.start.x));
      const dy = Math.max(-o.y1, Math.min(H - o.y2, p.y - drag.start.y));
      Object.assign(b, { x1: o.x1 + dx, x2: o.x2 + dx, y1: o.y1 + dy, y2: o.y2 + dy });
    } else {
      const o = drag.orig;
      const fixedX = drag.corner.includes('w') ? o.x2 : o.x1;
      const fixedY = drag.corner.includes('n') ? o.y2 : o.y1;
      Object.assign(b, { x1: Math.min(fixedX, p.x), x2: Math.max(fixedX, p.x), y1: Math.min(fixedY, p.y), y2: Math.max(fixedY, p.y) });
    }
    draw();
  });

  function finish(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (layer.hasPointerCapture?.(e.pointerId)) layer.releasePointerCapture(e.pointerId);
    const b = boxes[d.index];
    if (d.mode === 'draw') {
      if (b.x2 - b.x1 < MIN_SIDE || b.y2 - b.y1 < MIN_SIDE) {
        boxes.splice(d.index, 1); // a click on the image: deselect
        select(null);
        return;
      }
      select(d.index);
      report(`drew a "${b.name}" box`);
      return;
    }
    const o = d.orig;
    const moved = Math.abs(b.x1 - o.x1) + Math.abs(b.y1 - o.y1) + Math.abs(b.x2 - o.x2) + Math.abs(b.y2 - o.y2) >= 1;
    if (!moved) {
      Object.assign(b, o);
      draw();
      return;
    }
    b.touched = true;
    draw();
    report(d.mode === 'move' ? `moved a "${b.name}" box` : `resized a "${b.name}" box`);
  }
  layer.addEventListener('pointerup', finish);
  layer.addEventListener('pointercancel', finish);

  new ResizeObserver(() => draw()).observe(layer);

  return {
    element,
    boxes: () => boxes.map((b) => ({ ...b })),
    selected: () => (sel >= 0 ? boxes[sel] : null),
    select,
    relabelSelected(label) {
      const b = boxes[sel];
      if (!b || b.name === label) return;
      const old = b.name;
      b.name = label;
      b.type = typeOf(label) ?? b.type;
      b.touched = true;
      draw();
      report(`relabeled a box "${old}" → "${label}"`);
    },
    deleteSelected() {
      const b = boxes[sel];
      if (!b) return;
      boxes.splice(sel, 1);
      sel = -1;
      draw();
      onSelect(null);
      report(`deleted a "${b.name}" box`);
    },
    setBoxes(labels) {
      boxes = labels.map(boxOf).filter(Boolean);
      sel = -1;
      draw();
    },
  };
}
