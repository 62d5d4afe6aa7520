// Maintenance windows: list, plan (with a monitor picker) and delete.

import { api } from './api.js';
import { $, h, template, toast, when } from './dom.js';
import { busy, clearErrors, showError, text } from './forms.js';
import { MonitorPicker } from './picker.js';

/** A datetime-local value as RFC 3339 (the browser's time zone), or the raw text. */
function instant(value) {
  if (!value) return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

export function mount(root) {
  root.append(template('maintenance'));
  const list = $(root, '#window-list');
  const form = $(root, '#window-form');
  const picker = new MonitorPicker($(root, '#wf-monitors'), { label: 'Add monitors' });
  picker.draw();

  const draw = (windows) => {
    $(root, '#window-empty').hidden = windows.length > 0;
    list.replaceChildren(
      ...windows.map((window) => {
        const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, 'Delete');
        remove.addEventListener('click', async () => {
          if (!confirm(`Delete the window “${window.name || 'unnamed'}”?`)) return;
          try {
            await api('DELETE', `/maintenance-windows/${window.id}`);
            toast('Window deleted.');
            load();
          } catch (error) {
            toast(error.message, 'error');
          }
        });
        return h(
          'li',
          { class: 'item', 'data-id': window.id },
          h(
            'div',
            { class: 'item-main' },
            h('strong', {}, window.name || 'Unnamed window'),
            ' ',
            window.active ? h('span', { class: 'badge badge-paused' }, 'In force') : null,
            window.repeat === 'weekly' ? h('span', { class: 'tag' }, 'weekly') : null,
            h('span', { class: 'muted item-line' }, `${when(window.startsAt)} → ${when(window.endsAt)}`),
            h('span', { class: 'muted item-line' }, `${window.monitorIds.length} monitor${window.monitorIds.length === 1 ? '' : 's'}`),
          ),
          h('div', { class: 'item-actions' }, remove),
        );
      }),
    );
  };

  const load = () =>
    api('GET', '/maintenance-windows?limit=500').then(
      (page) => draw(page.data),
      (error) => toast(error.message, 'error'),
    );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      name: text(form, 'name') ?? '',
      startsAt: instant(form.elements.startsAt.value),
      endsAt: instant(form.elements.endsAt.value),
      repeat: form.elements.repeat.value,
      monitorIds: picker.ids(),
    };
    await busy(form, async () => {
      try {
        await api('POST', '/maintenance-windows', body);
        form.reset();
        picker.set([]);
        toast('Maintenance window added.');
        load();
      } catch (error) {
        showError(form, error);
      }
    });
  });
  load();
}
