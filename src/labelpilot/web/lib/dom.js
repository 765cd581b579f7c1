// Building DOM nodes without innerHTML: every string becomes a text node or an attribute value,
// so user data (names, labels, messages) can never be parsed as markup.

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open', 'required']);

/**
 * h('a.button', {href: '#/x', on: {click: fn}}, 'text', child, [more])
 * Tag may carry classes after dots: 'div.card.wide'.
 */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || (value === false && !PROPS.has(key))) continue;
    if (key === 'on') {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    } else if (key === 'class') {
      el.className = [el.className, value].filter(Boolean).join(' ');
    } else if (key === 'style' && typeof value === 'object') {
      Object.assign(el.style, value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A role=alert box that shows an error (ApiError or Error) in place; empty when err is null. */
export function errorBox(err) {
  const box = h('p.error', { role: 'alert' });
  setError(box, err);
  return box;
}

export function setError(box, err) {
  if (!err) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  replace(box, err.code ? h('span.code', err.code) : null, err.code ? ' ' : null, err.message);
}

export function field(labelText, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const msg = h('span.field-error', { id: `${id}-err`, role: 'alert', hidden: true });
  input.setAttribute('aria-describedby', `${id}-err${hint ? ` ${id}-hint` : ''}`);
  return h(
    'div.field',
    { dataset: { field: input.name || '' } },
    h('label', { for: id }, labelText),
    input,
    hint ? h('span.hint', { id: `${id}-hint` }, hint) : null,
    msg,
  );
}

export function checkbox(name, labelText, checked = false, hint) {
  const input = h('input', { type: 'checkbox', name, checked });
  return h(
    'div.field.check',
    { dataset: { field: name } },
    h('label', input, ' ', labelText),
    hint ? h('span.hint', hint) : null,
    h('span.field-error', { role: 'alert', hidden: true }),
  );
}

export function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value) }, text)),
  );
}

/** Show a message under the field named `name` inside form; returns false when none matches. */
export function fieldError(form, name, message) {
  const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  const msg = wrap && wrap.querySelector('.field-error');
  if (!msg) return false;
  msg.textContent = message;
  msg.hidden = false;
  wrap.classList.add('invalid');
  return true;
}

export function clearFieldErrors(form) {
  for (const msg of form.querySelectorAll('.field-error')) {
    msg.hidden = true;
    msg.textContent = '';
  }
  for (const w of form.querySelectorAll('.invalid')) w.classList.remove('invalid');
}

export function spinner(text = 'Loading…') {
  return h('p.loading', { role: 'status' }, text);
}
