// Names, words and number formats shared by the views.

export const STATUS = {
  '-1': { text: 'queuing', tone: 'neutral' },
  0: { text: 'initializing', tone: 'info' },
  1: { text: 'running', tone: 'info' },
  2: { text: 'failed', tone: 'bad' },
  3: { text: 'succeeded', tone: 'good' },
  4: { text: 'stopping', tone: 'warn' },
  5: { text: 'stopped', tone: 'warn' },
};
export const ACTIVE = new Set([-1, 0, 1, 4]);
export const isActive = (task) => ACTIVE.has(task.status);

/** Task kinds: API task_type, ModelArts type integer, title. */
export const KINDS = [
  { key: 'auto-label', type: 0, title: 'Auto label' },
  { key: 'pre-label', type: 1, title: 'Pre-label' },
  { key: 'auto-grouping', type: 7, title: 'Auto grouping' },
  { key: 'auto-deploy', type: 8, title: 'Auto deploy' },
];
export const kindOfType = (type) => KINDS.find((k) => k.type === type);
export const typeTitle = (type) => kindOfType(type)?.title ?? `type ${type}`;

export const EVENT_TONE = { waiting: 'neutral', running: 'info', failed: 'bad', success: 'good', lost: 'warn' };

export const DATASET_TYPES = {
  0: 'Image classification',
  1: 'Object detection',
  3: 'Image segmentation',
  100: 'Text classification',
  101: 'Named entity',
  102: 'Text triplet',
  200: 'Sound classification',
  201: 'Speech content',
  202: 'Speech paragraph',
  400: 'Table',
  600: 'Video',
  900: 'Free format',
};

/** Hard-example reason ids (API contract §3.6). */
export const HARD_REASONS = {
  0: 'no target detected',
  1: 'low confidence',
  2: 'clustering of the training set disagrees with the prediction',
  3: 'prediction far from same-class training data',
  4: 'consecutive similar images predicted inconsistently',
  5: 'resolution differs from the training set',
  6: 'aspect ratio differs from the training set',
  7: 'brightness differs from the training set',
  8: 'saturation differs from the training set',
  9: 'colorfulness differs from the training set',
  10: 'sharpness differs from the training set',
  11: 'box count differs from the training set',
  12: 'spread of box areas differs from the training set',
  13: 'box aspect ratio differs from the training set',
  14: 'box area share differs from the training set',
  15: 'boxes unusually close to the edge',
  16: 'box brightness differs from the training set',
  17: 'box sharpness differs from the training set',
  18: 'boxes overlap or stack unusually',
  19: 'blurred copy predicted differently',
  20: 'left-right flipped copy predicted differently',
  21: 'cropped copy predicted differently',
  22: 'upside-down copy predicted differently',
  23: 'scaled copy predicted differently',
  24: 'shifted copy predicted differently',
  25: 'sheared copy predicted differently',
  26: 'superpixel copy predicted differently',
  27: 'sharpened copy predicted differently',
  28: 'brightened copy predicted differently',
  29: 'inverted copy predicted differently',
  30: 'sample predicted as an outlier',
};
export const reasonText = (id) => HARD_REASONS[id] ?? `reason ${id}`;

const pad = (n) => String(n).padStart(2, '0');

/** Seconds as "12 s", "3 min 05 s", "1 h 02 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** Milliseconds as "350 ms", "2.09 s", or a duration. */
export function millis(ms) {
  const v = Number(ms) || 0;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(2)} s`;
  return duration(v / 1000);
}

/** Epoch milliseconds as local "YYYY-MM-DD HH:MM:SS". */
export function dateTime(ms) {
  if (ms === undefined || ms === null) return '';
  const d = new Date(Number(ms));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

export function clock(ms) {
  const d = new Date(Number(ms));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A task create_time ("YYYY-MM-DD HH:MM:SS", UTC) in local time. */
export function taskTime(text) {
  if (!text) return '';
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? text : dateTime(ms);
}

export const percent = (v) => `${Math.round(Number(v) || 0)}%`;
export const score = (v) => (v === undefined || v === null ? '' : Number(v).toFixed(2));
export const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

/** Counters of a dataset response, unlabeled included. */
export function counts(ds) {
  const total = ds.total_sample_count ?? 0;
  const labeled = ds.annotated_sample_count ?? 0;
  const unconfirmed = ds.unconfirmed_sample_count ?? 0;
  return { total, labeled, unconfirmed, unlabeled: Math.max(0, total - labeled - unconfirmed) };
}
