// Deployed online services (auto-deploy or POST /v1/{project}/services): status, model, URL,
// restarts, with stop / start / delete. The list refreshes every 2 s while the page is open.

import { api } from '../lib/api.js';
import { errorBox, h, replace, setError, spinner } from '../lib/dom.js';
import { dateTime } from '../lib/format.js';
import { emptyState, pager } from '../lib/layout.js';

const TONES = { running: 'good', deploying: 'info', failed: 'bad', stopped: 'neutral' };

const v1 = (path, options = {}) => api(path, { ...options, v1: true });

function badge(status) {
  return h(`span.badge.${TONES[status] || 'neutral'}`, { dataset: { status } }, status);
}

function serviceRow(svc, act) {
  const running = svc.desired_status === 'running';
  const button = (label, onClick, cls = '') =>
    h(`button${cls}`, { type: 'button', 'aria-label': `${label} ${svc.service_name}`, on: { click: onClick } }, label);
  return h(
    'tr',
    { dataset: { serviceId: svc.service_id } },
    h('td', { 'data-label': 'Name' }, h('span.strong', svc.service_name), svc.description ? h('div.muted.small', svc.description) : null),
    h(
      'td',
      { 'data-label': 'Status' },
      badge(svc.status),
      svc.failure_tip && svc.status !== 'running' ? h('div.muted.small', { title: svc.failure_tip }, svc.failure_tip.slice(0, 120)) : null,
    ),
    h('td', { 'data-label': 'Model' }, `${svc.model_name || svc.model_id} ${svc.model_version || ''}`.trim()),
    h('td', { 'data-label': 'URL' }, svc.access_address ? h('code.small', svc.access_address) : h('span.muted', '—')),
    h('td.num', { 'data-label': 'Instances' }, String(svc.instance_count)),
    h('td.num', { 'data-label': 'Restarts', dataset: { col: 'restarts' } }, String(svc.restart_count)),
    h('td', { 'data-label': 'Deployed' }, dateTime(svc.publish_at)),
    h(
      'td.actions',
      { 'data-label': 'Actions' },
      running
        ? button('Stop', () => act(svc, 'PUT', { status: 'stopped' }))
        : button('Start', () => act(svc, 'PUT', { status: 'running' })),
      button(
        'Delete',
        () => {
          if (window.confirm(`Delete service ${svc.service_name}? Its process stops and its URL stops answering.`)) act(svc, 'DELETE');
        },
        '.danger',
      ),
    ),
  );
}

export async function render(ctx) {
  ctx.title('Services');
  const state = { page: Number(ctx.query.page) || 0, size: Number(ctx.query.size) || 10 };
  const list = h('div', spinner());
  const err = errorBox(null);
  let timer;

  async function act(svc, method, body) {
    setError(err, null);
    try {
      await v1(`/services/${encodeURIComponent(svc.service_id)}`, { method, body });
    } catch (ex) {
      setError(err, ex);
    }
    load();
  }

  async function load() {
    clearTimeout(timer);
    ctx.replaceQuery({ page: state.page || '', size: state.size === 10 ? '' : state.size });
    try {
      const data = await v1('/services', { query: { limit: state.size, offset: state.page } });
      if (ctx.signal.aborted) return;
      if (!data.services.length) {
        replace(
          list,
          emptyState(
            'No services yet.',
            h('p', 'An auto-deploy task on a labeled dataset trains a model and deploys it here as a prediction service.'),
          ),
        );
      } else {
        const heads = ['Name', 'Status', 'Model', 'URL', 'Instances', 'Restarts', 'Deployed', ''];
        replace(
          list,
          h(
            'div.table-wrap',
            h(
              'table.data.cards-on-phone.services',
              { 'aria-label': 'Services' },
              h('thead', h('tr', heads.map((t) => h(t === 'Instances' || t === 'Restarts' ? 'th.num' : 'th', { scope: 'col' }, t)))),
              h('tbody', data.services.map((svc) => serviceRow(svc, act))),
            ),
          ),
          pager({
            total: data.total_count,
            page: state.page,
            size: state.size,
            label: 'services',
            onChange: (page, size) => {
              Object.assign(state, { page, size });
              load();
            },
          }),
          h(
            'p.muted.small',
            'Predict: POST {"instances": [{"image": "<base64>"}]} or {"instances": [{"text": "..."}]} to a URL, or send one raw image with its Content-Type.',
          ),
        );
      }
    } catch (ex) {
      if (ctx.signal.aborted) return;
      replace(list, errorBox(ex));
    }
    if (!ctx.signal.aborted) timer = setTimeout(load, 2000);
  }

  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  replace(ctx.root, h('header.page-head', h('div.title-row', h('h1', 'Services'))), err, list);
  load();
}
