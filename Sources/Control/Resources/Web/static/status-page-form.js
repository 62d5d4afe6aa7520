// The status-page editor: title, slug, description, published, and the monitors it shows in
// order; with a link to the public page.

import { api } from './api.js';
import { $, template, toast } from './dom.js';
import { busy, clearErrors, showError, text } from './forms.js';
import { MonitorPicker, namesOf } from './picker.js';

export function mount(root, [idText], { navigate }) {
  const editing = idText !== undefined;
  const id = editing ? Number(idText) : null;
  root.append(template('status-page-form'));
  const form = $(root, '#page-form');
  const preview = $(root, '#pf-slug-preview');
  const publicLink = $(root, '#pf-public');
  const picker = new MonitorPicker($(root, '#pf-picker'), {
    selectedList: $(root, '#pf-selected'),
    ordered: true,
    label: 'Add monitors',
  });
  picker.draw();
  let slugEdited = editing;

  const showSlug = () => {
    preview.textContent = form.elements.slug.value || '…';
  };
  form.elements.title.addEventListener('input', () => {
    if (slugEdited) return;
    form.elements.slug.value = form.elements.title.value
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63);
    showSlug();
  });
  form.elements.slug.addEventListener('input', () => {
    slugEdited = true;
    showSlug();
  });

  const show = (page) => {
    form.elements.title.value = page.title;
    form.elements.slug.value = page.slug;
    form.elements.description.value = page.description ?? '';
    form.elements.published.checked = page.published;
    publicLink.href = `/status/${page.slug}`;
    publicLink.hidden = !page.published;
    showSlug();
  };

  if (editing) {
    $(root, '#page-form-title').textContent = 'Edit status page';
    $(root, '#pf-submit').textContent = 'Save changes';
    const remove = $(root, '#pf-delete');
    remove.hidden = false;
    remove.addEventListener('click', async () => {
      if (!confirm('Delete this status page? Its public address stops working.')) return;
      try {
        await api('DELETE', `/status-pages/${id}`);
        toast('Status page deleted.');
        navigate('#/status-pages');
      } catch (error) {
        toast(error.message, 'error');
      }
    });
    api('GET', `/status-pages/${id}`)
      .then(async (page) => {
        show(page);
        picker.set(await namesOf(page.monitorIds));
      })
      .catch((error) => toast(error.message, 'error'));
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      title: form.elements.title.value.trim(),
      slug: form.elements.slug.value.trim(),
      description: text(form, 'description'),
      published: form.elements.published.checked,
      monitorIds: picker.ids(),
    };
    await busy(form, async () => {
      try {
        const saved = await api(editing ? 'PUT' : 'POST', editing ? `/status-pages/${id}` : '/status-pages', body);
        toast(editing ? 'Saved.' : 'Status page created.');
        if (editing) show(saved);
        else navigate(`#/status-pages/${saved.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  showSlug();
  form.elements.title.focus();
}
