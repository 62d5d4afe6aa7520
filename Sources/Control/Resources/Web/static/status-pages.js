// The user's status pages, with links to their editor and public address.

import { api } from './api.js';
import { $, h, template, toast } from './dom.js';

export function mount(root) {
  root.append(template('status-pages'));
  const list = $(root, '#page-list');
  api('GET', '/status-pages?limit=500').then(
    (page) => {
      $(root, '#page-empty').hidden = page.data.length > 0;
      list.replaceChildren(
        ...page.data.map((item) =>
          h(
            'li',
            { class: 'item', 'data-id': item.id },
            h(
              'div',
              { class: 'item-main' },
              h('a', { href: `#/status-pages/${item.id}` }, h('strong', {}, item.title)),
              ' ',
              h('span', { class: `badge ${item.published ? 'badge-up' : 'badge-unknown'}` }, item.published ? 'Published' : 'Draft'),
              h('span', { class: 'muted item-line' }, `/status/${item.slug} · ${item.monitorIds.length} monitor${item.monitorIds.length === 1 ? '' : 's'}`),
            ),
            h(
              'div',
              { class: 'item-actions' },
              h('a', { class: 'btn btn-small', href: `#/status-pages/${item.id}` }, 'Edit'),
              item.published ? h('a', { class: 'btn btn-small', href: `/status/${item.slug}`, target: '_blank', rel: 'noopener' }, 'Open') : null,
            ),
          ),
        ),
      );
    },
    (error) => toast(error.message, 'error'),
  );
}
