// Deployed services: not in this LabelPilot version yet. No fake data.

import { h, replace } from '../lib/dom.js';

export async function render(ctx) {
  ctx.title('Services');
  replace(
    ctx.root,
    h('header.page-head', h('div.title-row', h('h1', 'Services'))),
    h(
      'section.panel.unavailable',
      { role: 'status' },
      h('h2', 'Deployed services are not available yet'),
      h(
        'p',
        'This LabelPilot version does not deploy models as services, so there is no service to list and no prediction to try. ',
        'Auto-deploy tasks report their progress in each dataset\'s task list; the services they create, and a drop zone to try a prediction on an image, will appear here once deployment lands.',
      ),
      h('div.dropzone.disabled', { 'aria-disabled': 'true' }, 'Prediction by image drop: not available yet'),
    ),
  );
}
