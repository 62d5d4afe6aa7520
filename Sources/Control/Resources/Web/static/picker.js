// Choosing monitors among thousands: a search box that asks the API (GET /monitors?q=) and a
// list of the chosen ones, optionally ordered (up / down buttons).

import { api, query } from './api.js';
import { debounce, h } from './dom.js';

export class MonitorPicker {
  constructor(container, { selectedList = null, ordered = false, label = 'Find monitors' } = {}) {
    this.ordered = ordered;
    this.selected = [];
    this.selectedList = selectedList ?? h('ul', { class: 'ordered' });
    this.results = h('ul', { class: 'picker-results', 'aria-live': 'polite' });
    const inputId = `picker-${Math.random().toString(36).slice(2, 8)}`;
    this.input = h('input', { id: inputId, type: 'search', placeholder: 'Name or URL', autocomplete: 'off' });
    const search = debounce(() => this.search(), 200);
    this.input.addEventListener('input', search);
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.results.querySelector('button')?.click();
      }
    });
    const parts = [h('label', { for: inputId }, label), this.input, this.results];
    if (!selectedList) parts.unshift(this.selectedList);
    container.append(...parts);
    this.search();
  }

  /** The chosen monitors' ids, in order. */
  ids() {
    return this.selected.map((monitor) => monitor.id);
  }

  /** Chooses these monitors ({id, name}). */
  set(monitors) {
    this.selected = monitors.slice();
    this.draw();
  }

  async search() {
    const text = this.input.value.trim();
    try {
      const page = await api('GET', `/monitors${query({ q: text, limit: 8 })}`);
      const chosen = new Set(this.ids());
      this.results.replaceChildren(
        ...page.data
          .filter((monitor) => !chosen.has(monitor.id))
          .map((monitor) =>
            h(
              'li',
              {},
              h('span', {}, monitor.name),
              h(
                'button',
                {
                  type: 'button',
                  class: 'btn btn-small',
                  'aria-label': `Add ${monitor.name}`,
                  onclick: () => {
                    this.selected.push({ id: monitor.id, name: monitor.name });
                    this.draw();
                    this.search();
                    this.input.focus();
                  },
                },
                'Add',
              ),
            ),
          ),
      );
      if (!page.data.length) this.results.append(h('li', { class: 'muted' }, text ? 'No monitor matches.' : 'No monitors yet.'));
    } catch (error) {
      this.results.replaceChildren(h('li', { class: 'muted' }, error.message));
    }
  }

  draw() {
    this.selectedList.replaceChildren(
      ...this.selected.map((monitor, index) => {
        const item = h('li', { 'data-id': monitor.id }, h('span', { class: 'grow' }, monitor.name));
        if (this.ordered) {
          item.append(
            h('button', { type: 'button', class: 'btn btn-small', disabled: index === 0, 'aria-label': `Move ${monitor.name} up`, onclick: () => this.move(index, -1) }, '↑'),
            h('button', { type: 'button', class: 'btn btn-small', disabled: index === this.selected.length - 1, 'aria-label': `Move ${monitor.name} down`, onclick: () => this.move(index, 1) }, '↓'),
          );
        }
        item.append(
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Remove ${monitor.name}`, onclick: () => this.remove(index) }, 'Remove'),
        );
        return item;
      }),
    );
    if (!this.selected.length) this.selectedList.append(h('li', { class: 'muted' }, 'None chosen.'));
  }

  move(index, step) {
    const [monitor] = this.selected.splice(index, 1);
    this.selected.splice(index + step, 0, monitor);
    this.draw();
    this.selectedList.children[index + step]?.querySelector(`button[aria-label^="Move"]:not([disabled])`)?.focus();
  }

  remove(index) {
    this.selected.splice(index, 1);
    this.draw();
    this.search();
  }
}

/** {id, name} of the given monitor ids (one request each, at most a few at a time). */
export async function namesOf(ids) {
  const named = [];
  for (let start = 0; start < ids.length; start += 6) {
    const batch = await Promise.all(
      ids.slice(start, start + 6).map((id) =>
        api('GET', `/monitors/${id}`).then(
          (monitor) => ({ id, name: monitor.name }),
          () => ({ id, name: `Monitor ${id}` }),
        ),
      ),
    );
    named.push(...batch);
  }
  return named;
}
