// LabelPilot console: a hash router that mounts one view at a time into <main>.
// Each view gets a context whose `signal` aborts when the route changes (timers, fetches).
// Views: render(ctx) with ctx = {params, query, signal, root, navigate, replaceQuery, title}.

import { borrowSession, clearSession, session } from './lib/api.js';
import { errorBox, h, replace } from './lib/dom.js';

const ROUTES = [
  [/^\/login$/, () => import('./views/login.js'), false],
  [/^\/datasets$/, () => import('./views/datasets.js')],
  [/^\/datasets\/([^/]+)$/, () => import('./views/dataset.js'), true, ['datasetId']],
  [/^\/datasets\/([^/]+)\/tasks$/, () => import('./views/tasks.js'), true, ['datasetId']],
  [/^\/datasets\/([^/]+)\/tasks\/([^/]+)$/, () => import('./views/task.js'), true, ['datasetId', 'taskId']],
  [/^\/datasets\/([^/]+)\/review$/, () => import('./views/review.js'), true, ['datasetId']],
  [/^\/datasets\/([^/]+)\/groups$/, () => import('./views/groups.js'), true, ['datasetId']],
  [/^\/datasets\/([^/]+)\/label$/, () => import('./views/label.js'), true, ['datasetId']],
  [/^\/datasets\/([^/]+)\/labels$/, () => import('./views/labels.js'), true, ['datasetId']],
  [/^\/services$/, () => import('./views/services.js')],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let current = null; // AbortController of the mounted view

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/datasets';
  const [path, qs = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(qs)) };
}

export function navigate(path, query) {
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString() : '';
  location.hash = `#${path}${qs ? `?${qs}` : ''}`;
}

/** Mirror a view's state in the address bar without re-rendering. */
export function replaceQuery(query) {
  const { path } = parseHash();
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString();
  history.replaceState(null, '', `#${path}${qs ? `?${qs}` : ''}`);
}

function renderNav(path) {
  const s = session();
  const link = (href, text, match) => h('a', { href, 'aria-current': match ? 'page' : null }, text);
  replace(
    nav,
    s
      ? [
          link('#/datasets', 'Datasets', path.startsWith('/datasets')),
          link('#/services', 'Services', path === '/services'),
          h('span.who', { title: 'Signed-in project' }, `Project ${s.project_id}`),
          h('button.link', { type: 'button', on: { click: signOut } }, 'Sign out'),
        ]
      : [],
  );
}

function signOut() {
  clearSession();
  navigate('/login');
}

async function route() {
  const { path, query } = parseHash();
  const found = ROUTES.map(([re, load, auth = true, names = []]) => ({ m: re.exec(path), load, auth, names })).find((r) => r.m);
  if (!found) return navigate('/datasets');
  if (found.auth && !session() && !(await borrowSession())) return navigate('/login', { next: location.hash.slice(1) });
  current?.abort();
  const controller = new AbortController();
  current = controller;
  renderNav(path);
  const params = Object.fromEntries(found.names.map((n, i) => [n, decodeURIComponent(found.m[i + 1])]));
  const ctx = {
    params,
    query,
    signal: controller.signal,
    root: main,
    navigate,
    replaceQuery,
    title: (t) => {
      document.title = `${t} · LabelPilot`;
    },
  };
  replace(main, h('p.loading', { role: 'status' }, 'Loading…'));
  try {
    const view = await found.load();
    if (controller.signal.aborted) return;
    await view.render(ctx);
  } catch (err) {
    if (err.name === 'AbortError' || controller.signal.aborted) return;
    replace(main, h('section.panel', h('h1', 'Something went wrong'), errorBox(err), h('p', h('a', { href: '#/datasets' }, 'Back to datasets'))));
  }
  // Move focus to the new page unless the view focused something of its own (e.g. a form field).
  if (!controller.signal.aborted && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

/** The page to come back to after signing in again (not the sign-in page itself). */
function here() {
  const { path } = parseHash();
  return path.startsWith('/login') ? '' : location.hash.slice(1);
}

window.addEventListener('labelpilot:signed-out', (e) => {
  const next = here();
  clearSession();
  navigate('/login', { reason: e.detail || 'Your session has ended', next });
});
window.addEventListener('labelpilot:session-ended', () => {
  navigate('/login', { reason: 'Signed out in another tab', next: here() });
});
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);
route();
