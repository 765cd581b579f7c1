// The console talks to the same ModelArts v2 API as any client: X-Auth-Token on every request.

const KEY = 'labelpilot.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.project_id && s.token ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(projectId, token) {
  sessionStorage.setItem(KEY, JSON.stringify({ project_id: projectId, token }));
}

// Tabs of this console share the sign-in without writing the token to disk: a new tab asks the
// open ones (BroadcastChannel, same origin only) and keeps the answer in its own sessionStorage;
// signing out in one tab signs out all. See docs/security.md.
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('labelpilot.session') : null;
channel?.addEventListener('message', (e) => {
  const m = e.data || {};
  if (m.type === 'ask' && session()) channel.postMessage({ type: 'session', session: session() });
  if (m.type === 'signed-out' && session()) {
    sessionStorage.removeItem(KEY);
    window.dispatchEvent(new CustomEvent('labelpilot:session-ended'));
  }
});

/** Signed in here, or in another open tab of the console (asked for up to `ms`). */
export function borrowSession(ms = 300) {
  if (session() || !channel) return Promise.resolve(Boolean(session()));
  return new Promise((resolve) => {
    const done = (ok) => {
      clearTimeout(timer);
      channel.removeEventListener('message', onMessage);
      resolve(ok);
    };
    const onMessage = (e) => {
      const s = e.data?.type === 'session' ? e.data.session : null;
      if (s && s.project_id && s.token) {
        saveSession(s.project_id, s.token);
        done(true);
      }
    };
    const timer = setTimeout(() => done(false), ms);
    channel.addEventListener('message', onMessage);
    channel.postMessage({ type: 'ask' });
  });
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
  channel?.postMessage({ type: 'signed-out' });
}

export function queryString(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Raw fetch of `/v2/{project}{path}` (or `/v1/{project}{path}` with `v1: true`: models, services);
 * throws ApiError with the API's error_code / error_msg.
 */
export async function request(path, { method = 'GET', body, query, auth, signal, v1 = false } = {}) {
  const probe = Boolean(auth); // sign-in checks a credential that is not the session's
  auth = auth || session();
  if (!auth) throw new ApiError(401, 'ModelArts.0201', 'Not signed in');
  const headers = { 'X-Auth-Token': auth.token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/${v1 ? 'v1' : 'v2'}/${encodeURIComponent(auth.project_id)}${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', `The server cannot be reached (${err.message})`);
  }
  if (!res.ok) {
    let code = `HTTP ${res.status}`;
    let msg = res.statusText || 'Request failed';
    try {
      const data = await res.json();
      code = data.error_code || code;
      msg = data.error_msg || msg;
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && !probe) {
      window.dispatchEvent(new CustomEvent('labelpilot:signed-out', { detail: msg }));
    }
    throw new ApiError(res.status, code, msg);
  }
  return res;
}

export async function api(path, options) {
  const res = await request(path, options);
  if (res.status === 204) return null;
  return res.json();
}

// --- typed helpers -------------------------------------------------------------------------

const ds = (id) => `/datasets/${encodeURIComponent(id)}`;
const samples = (id) => `${ds(id)}/data-annotations/samples`;

export const Api = {
  listDatasets: (query) => api('/datasets', { query }),
  getDataset: (id) => api(ds(id)),
  createDataset: (body) => api('/datasets', { method: 'POST', body }),
  getImportTask: (id, tid) => api(`${ds(id)}/import-tasks/${encodeURIComponent(tid)}`),
  listSamples: (id, query) => api(samples(id), { query }),
  listAutoSamples: (id, query) => api(`${ds(id)}/auto-annotations/samples`, { query }),
  updateSamples: (id, items, extra = {}) => api(samples(id), { method: 'PUT', body: { samples: items, ...extra } }),
  getSample: (id, sid) => api(`${samples(id)}/${encodeURIComponent(sid)}`),
  sampleUrl: (id, sid, tail) => `${samples(id)}/${encodeURIComponent(sid)}/${tail}`,
  listTasks: (id, query) => api(`${ds(id)}/tasks`, { query }),
  getTask: (id, tid) => api(`${ds(id)}/tasks/${encodeURIComponent(tid)}`),
  createTask: (id, body) => api(`${ds(id)}/tasks`, { method: 'POST', body }),
  stopTask: (id, tid) => api(`${ds(id)}/tasks/${encodeURIComponent(tid)}/stop`, { method: 'POST' }),
  listModels: (query) => api('/models', { query, v1: true }),
};

/** Update samples in chunks of 100; returns {ok, failed: [{name, error_msg}]}. */
export async function updateSamplesChunked(datasetId, items) {
  const failed = [];
  for (let i = 0; i < items.length; i += 100) {
    const res = await Api.updateSamples(datasetId, items.slice(i, i + 100));
    for (const r of res.results || []) if (!r.success) failed.push(r);
  }
  return { ok: items.length - failed.length, failed };
}
