// Create-task forms: each kind offers exactly the SmartTaskConfig options that apply to it,
// checks them as the API contract does, and shows the API's own messages in place.

import { Api } from './api.js';
import { checkbox, clearFieldErrors, errorBox, field, fieldError, h, select, setError } from './dom.js';
import { KINDS } from './format.js';

const num = (form, name) => (form.elements[name].value.trim() === '' ? null : Number(form.elements[name].value));
const checked = (form, name) => form.elements[name].checked;
const text = (form, name) => form.elements[name].value.trim();

function instanceCount() {
  return field('Instances', h('input', { name: 'instance_count', type: 'number', min: 1, step: 1, value: 1, inputmode: 'numeric' }), 'inf_config_list[0].instance_count');
}

function checkInstances(form, errors) {
  const n = num(form, 'instance_count');
  if (n === null || !Number.isInteger(n) || n < 1) errors.push(['instance_count', 'Give a whole number of instances, 1 or more.']);
  return n;
}

function paramRow(label = '', value = '') {
  const row = h(
    'div.param-row',
    h('input', { name: 'param_label', value: label, 'aria-label': 'Parameter name', placeholder: 'name' }),
    h('input', { name: 'param_value', value, 'aria-label': 'Parameter value', placeholder: 'value' }),
  );
  row.append(h('button.link', { type: 'button', 'aria-label': 'Remove parameter', on: { click: () => row.remove() } }, 'Remove'));
  return row;
}

/** The model_id field, with the project's registered models offered as suggestions. */
function modelPicker() {
  const options = h('datalist', { id: 'model-options' });
  const input = h('input', { name: 'model_id', required: true, spellcheck: 'false', list: 'model-options', autocomplete: 'off' });
  Api.listModels({ limit: 100 })
    .then((data) => {
      for (const m of data.models) {
        options.append(h('option', { value: m.model_id }, `${m.model_name} ${m.model_version} · ${m.task.replace('_', ' ')}`));
      }
    })
    .catch(() => {
      /* suggestions only: the form still takes a pasted id */
    });
  return [field('Model ID', input, 'A registered model (labelpilot models add …): pick one or paste its id.'), options];
}

export const FORMS = {
  'auto-label': {
    intro: 'Active learning: train on the labeled samples, label the rest, and send the uncertain ones to review.',
    fields: () => [
      field('Algorithm', select('algorithm_type', [['fast', 'Fast (uses labeled samples only)'], ['accurate', 'Accurate (also learns from unlabeled samples)']], 'fast')),
      field('Confidence scope', h('input', { name: 'confidence_scope', value: '0.10-0.90', spellcheck: 'false' }), 'Scores inside "min-max" are collected as key samples.'),
      checkbox('collect_key_sample', 'Collect key (hard) samples', true),
      field('Auto-accept precision (optional)', h('input', { name: 'auto_accept_precision', type: 'number', step: '0.01', min: '0.01', max: '0.99', placeholder: '0.95' }), 'LabelPilot extension: accept predictions whose estimated precision reaches this value.'),
    ],
    body(form, errors) {
      const scope = text(form, 'confidence_scope');
      const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(scope);
      if (!m || Number(m[1]) < 0 || Number(m[2]) > 1 || Number(m[1]) >= Number(m[2])) {
        errors.push(['confidence_scope', 'Write two scores from 0 to 1 as min-max, the smaller first, e.g. 0.10-0.90.']);
      }
      const precision = num(form, 'auto_accept_precision');
      if (precision !== null && !(precision > 0 && precision < 1)) {
        errors.push(['auto_accept_precision', 'Give a precision between 0 and 1 (e.g. 0.95), or leave it empty.']);
      }
      const config = { algorithm_type: form.elements.algorithm_type.value, confidence_scope: scope };
      if (precision !== null) config.auto_accept_precision = precision;
      return { task_type: 'auto-label', collect_key_sample: checked(form, 'collect_key_sample'), config };
    },
  },
  'pre-label': {
    intro: 'Label the unlabeled samples with one of your models; the results wait for review.',
    fields: () => [
      modelPicker(),
      instanceCount(),
      checkbox('collect_key_sample', 'Collect key (hard) samples', false),
    ],
    body(form, errors) {
      const modelId = text(form, 'model_id');
      if (!modelId) errors.push(['model_id', 'Choose the model that labels the samples.']);
      const n = checkInstances(form, errors);
      return {
        task_type: 'pre-label',
        model_id: modelId,
        collect_key_sample: checked(form, 'collect_key_sample'),
        config: { inf_config_list: [{ instance_count: n }] },
      };
    },
  },
  'auto-grouping': {
    intro: 'Cluster the unlabeled images into groups of similar images, then label group by group.',
    fields: () => {
      const resultType = select('result_type', [['1', 'Write the group number to a sample attribute'], ['0', 'Save a manifest to storage']], '1');
      const property = field('Attribute name', h('input', { name: 'property', value: 'group', spellcheck: 'false' }), 'Receives the group number of each sample.');
      resultType.addEventListener('change', () => {
        property.hidden = resultType.value !== '1';
      });
      return [
        field('Number of groups', h('input', { name: 'n_clusters', type: 'number', min: 2, max: 200, step: 1, value: 10, required: true, inputmode: 'numeric' }), '2 to 200, fewer than the unlabeled images.'),
        h(
          'fieldset',
          h('legend', 'Also group by'),
          checkbox('ambiguity', 'Sharpness (ambiguity)'),
          checkbox('image_brightness', 'Brightness'),
          checkbox('image_colorfulness', 'Colorfulness'),
        ),
        field('Result', resultType),
        property,
      ];
    },
    body(form, errors) {
      const n = num(form, 'n_clusters');
      if (n === null || !Number.isInteger(n) || n < 2 || n > 200) errors.push(['n_clusters', 'Give a whole number of groups from 2 to 200.']);
      const resultType = Number(form.elements.result_type.value);
      const config = {
        n_clusters: n,
        ambiguity: checked(form, 'ambiguity'),
        image_brightness: checked(form, 'image_brightness'),
        image_colorfulness: checked(form, 'image_colorfulness'),
        result_type: resultType,
      };
      if (resultType === 1) {
        config.property = text(form, 'property');
        if (!config.property) errors.push(['property', 'Name the attribute that receives each sample\'s group.']);
      }
      return { task_type: 'auto-grouping', config };
    },
  },
  'auto-deploy': {
    intro: 'Train a model on the labeled samples and deploy it as a service.',
    fields: () => {
      const rows = h('div.params', paramRow());
      return [
        field('Task name', h('input', { name: 'name', maxlength: 64, spellcheck: 'false', placeholder: 'generated when empty' }), 'Names this task and its training job; the service is named after the model it trains.'),
        h(
          'fieldset.field',
          { dataset: { field: 'parameters' } },
          h('legend', 'Parameters'),
          rows,
          h('button.secondary.small', { type: 'button', on: { click: () => rows.append(paramRow()) } }, 'Add parameter'),
          h('span.field-error', { role: 'alert', hidden: true }),
        ),
        instanceCount(),
      ];
    },
    body(form, errors) {
      const parameters = [];
      for (const row of form.querySelectorAll('.param-row')) {
        const label = row.querySelector('[name=param_label]').value.trim();
        const value = row.querySelector('[name=param_value]').value.trim();
        if (!label && !value) continue;
        if (!label) errors.push(['parameters', 'Every parameter value needs a name.']);
        parameters.push({ label, value });
      }
      const n = checkInstances(form, errors);
      const config = { parameters, inf_config_list: [{ instance_count: n }] };
      const name = text(form, 'name');
      if (name) config.name = name;
      return { task_type: 'auto-deploy', config };
    },
  },
};

// What to do after a refusal that labeling fixes (the workspace opens on the unlabeled queue).
const NEXT_STEP = {
  'ModelArts.4405': { text: 'Label some samples of each class first:', link: 'open the labeling workspace', query: '?queue=unlabeled' },
  'ModelArts.4406': { text: 'Give at least two labels to enough samples first:', link: 'open the labeling workspace', query: '?queue=unlabeled' },
  'ModelArts.4426': { text: 'Label samples of at least two labels first:', link: 'open the labeling workspace', query: '?queue=unlabeled' },
  'ModelArts.4427': { text: 'Label more samples of each label first:', link: 'open the labeling workspace', query: '?queue=unlabeled' },
};

// Which field an API message is about (e.g. "Invalid parameter config.n_clusters: ...").
const FIELD_PATTERNS = [
  ['instance_count', /instance_count|inf_config_list/],
  ['n_clusters', /n_clusters/],
  ['confidence_scope', /confidence_scope/],
  ['auto_accept_precision', /auto_accept_precision/],
  ['algorithm_type', /algorithm_type/],
  ['model_id', /model_id|\bmodel\b/i],
  ['property', /config\.property/],
  ['result_type', /result_type/],
  ['parameters', /parameters/],
  ['name', /config\.name|task name/],
];

export function fieldOfMessage(message) {
  return FIELD_PATTERNS.find(([, re]) => re.test(message))?.[0] ?? null;
}

/** The create-task panel: kind chooser + the chosen kind's form. onCreated(kind, taskId). */
export function taskForms(datasetId, onCreated, initial = 'auto-label') {
  const body = h('div.task-form');
  const chooser = h(
    'div.segmented',
    { role: 'radiogroup', 'aria-label': 'Task kind' },
    KINDS.map((k) =>
      h('label', h('input', { type: 'radio', name: 'kind', value: k.key, checked: k.key === initial, on: { change: () => show(k.key) } }), h('span', k.title)),
    ),
  );

  function show(kind) {
    const def = FORMS[kind];
    const err = errorBox(null);
    const submit = h('button.primary', { type: 'submit' }, `Start ${KINDS.find((k) => k.key === kind).title.toLowerCase()}`);
    const form = h('form.stack', { novalidate: true, dataset: { kind }, 'aria-label': `Start ${kind}` }, h('p.muted', def.intro), def.fields(), err, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFieldErrors(form);
      setError(err, null);
      const errors = [];
      const payload = def.body(form, errors);
      if (errors.length) {
        for (const [name, msg] of errors) if (!fieldError(form, name, msg)) setError(err, new Error(msg));
        form.querySelector('.invalid input, .invalid select')?.focus();
        return;
      }
      submit.disabled = true;
      try {
        const res = await Api.createTask(datasetId, payload);
        onCreated(kind, res.task_id);
      } catch (ex) {
        const name = fieldOfMessage(ex.message);
        if (!(name && fieldError(form, name, `${ex.code}: ${ex.message}`))) setError(err, ex);
        const next = NEXT_STEP[ex.code];
        if (next && err.hidden) setError(err, ex);
        if (next) err.append(h('span.next-step', ' ', next.text, ' ', h('a', { href: `#/datasets/${encodeURIComponent(datasetId)}/label${next.query}` }, next.link), '.'));
      } finally {
        submit.disabled = false;
      }
    });
    body.replaceChildren(form);
  }

  show(initial);
  return h('section.panel', { 'aria-labelledby': 'start-task-h' }, h('h2', { id: 'start-task-h' }, 'Start an intelligent task'), chooser, body);
}
