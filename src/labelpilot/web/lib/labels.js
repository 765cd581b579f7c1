import { api } from './api.js';
import { h, setError } from './dom.js';

// A dataset's labels as the console shows them: colour (the label's `@modelarts:color`, else one
// of a fixed palette by position), keyboard key (1–9, then 0 for the tenth) and the wire type.

export const COLOR_KEY = '@modelarts:color';

// Distinct, readable on white and under white text (each at least 4.5:1 against #fff).
export const PALETTE = ['#1d4ed8', '#b91c1c', '#15803d', '#a21caf', '#c2410c', '#0e7490', '#4d7c0f', '#be185d', '#6d28d9', '#854d0e'];

const HEX = /^#[0-9a-f]{6}$/i;

/** The colour of the label at `index` of the dataset's label list. */
export function labelColor(label, index) {
  const c = label?.property?.[COLOR_KEY];
  return typeof c === 'string' && HEX.test(c) ? c.toLowerCase() : PALETTE[index % PALETTE.length];
}

/** Text colour (black or white) readable on `hex`. */
export function inkOn(hex) {
  const n = parseInt(hex.slice(1), 16);
  const lin = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  return (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? '#111827' : '#ffffff';
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];

/**
 * name -> {label, index, color, key} for the dataset's labels, in their order. A label named
 * with one digit gets that key ("3" is key 3); the other keys go to the other labels in order.
 */
export function labelIndex(labels) {
  const byKey = new Map();
  for (const lb of labels) if (/^[0-9]$/.test(lb.name)) byKey.set(lb.name, lb.name);
  const free = KEYS.filter((k) => !byKey.has(k));
  const out = new Map();
  labels.forEach((lb, i) => {
    const key = byKey.get(lb.name) ?? free.shift() ?? null;
    out.set(lb.name, { label: lb, index: i, color: labelColor(lb, i), key });
  });
  return out;
}

/** The label name a key picks in `index` (from labelIndex), or null. */
export function labelOfKey(index, key) {
  for (const [name, info] of index) if (info.key === key) return name;
  return null;
}

/**
 * When `name` is not one of the dataset's labels: show in `box` that it is not, with a button
 * that defines it on purpose and then calls `retry` (a typo never creates a class by itself).
 * Returns true when the name is unknown (the caller stops).
 */
export function refuseUnknownLabel(ds, name, box, retry) {
  if (ds.labels.some((lb) => lb.name === name)) return false;
  setError(box, new Error(`"${name}" is not a label of this dataset. Pick one of its labels, or add it:`));
  const add = h('button.secondary.small', { type: 'button' }, `Add label "${name}" and apply`);
  add.addEventListener('click', async () => {
    add.disabled = true;
    try {
      const path = `/datasets/${encodeURIComponent(ds.dataset_id)}/data-annotations/labels`;
      await api(path, { method: 'POST', body: { labels: [{ name }] } });
      ds.labels = (await api(`/datasets/${encodeURIComponent(ds.dataset_id)}`)).labels;
      setError(box, null);
      await retry();
    } catch (ex) {
      setError(box, ex);
    }
  });
  box.append(' ', add);
  return true;
}
