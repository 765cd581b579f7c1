// Sign in with a project's credential: project id + token (or the `credential {...}` line).

import { ApiError, request, saveSession } from '../lib/api.js';
import { errorBox, field, h, replace, setError } from '../lib/dom.js';

/** Accepts the JSON printed by `labelpilot serve --demo` / `credentials create`, with or without the "credential " prefix. */
function parseCredential(text) {
  const start = text.indexOf('{');
  if (start < 0) return null;
  try {
    const data = JSON.parse(text.slice(start));
    return data.project_id && data.token ? data : null;
  } catch {
    return null;
  }
}

export async function render(ctx) {
  ctx.title('Sign in');
  const project = h('input', { name: 'project_id', autocomplete: 'username', required: true, spellcheck: 'false' });
  const token = h('input', { name: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const pasted = h('textarea', { name: 'credential', rows: 3, spellcheck: 'false', placeholder: 'credential {"project_id": "…", "token": "…"}' });
  const err = errorBox(ctx.query.reason ? new ApiError(401, '', ctx.query.reason) : null);
  const submit = h('button.primary', { type: 'submit' }, 'Sign in');

  pasted.addEventListener('input', () => {
    const cred = parseCredential(pasted.value);
    if (cred) {
      project.value = cred.project_id;
      token.value = cred.token;
    }
  });

  const form = h(
    'form.panel.login',
    { novalidate: true },
    h('h1', 'Sign in to LabelPilot'),
    h('p.muted', 'Use a project credential: the token printed by ', h('code', 'labelpilot serve --demo'), ' or ', h('code', 'labelpilot credentials create'), '.'),
    field('Project ID', project),
    field('Token', token),
    field('Or paste the credential line', pasted, 'The project ID and token are read from it.'),
    err,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const cred = { project_id: project.value.trim(), token: token.value.trim() };
    if (!cred.project_id || !cred.token) {
      setError(err, new Error('Enter a project ID and a token.'));
      return;
    }
    submit.disabled = true;
    setError(err, null);
    try {
      await request('/datasets', { query: { limit: 1 }, auth: cred });
      saveSession(cred.project_id, cred.token);
      const next = ctx.query.next && ctx.query.next.startsWith('/') && !ctx.query.next.startsWith('/login') ? ctx.query.next : '/datasets';
      location.hash = `#${next}`;
    } catch (ex) {
      setError(err, ex);
    } finally {
      submit.disabled = false;
    }
  });
  replace(ctx.root, form);
  project.focus();
}
