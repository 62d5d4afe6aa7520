// Form helpers: reading values, and showing the API's validation errors next to the field the
// error's `field` names (`url`, `config.to`, `monitorIds[3]`, `headers.X-Token`).

import { h } from './dom.js';

/** Removes every error shown on `form`. */
export function clearErrors(form) {
  for (const element of form.querySelectorAll('[aria-invalid="true"]')) {
    element.removeAttribute('aria-invalid');
    const described = (element.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => !id.endsWith('-error'));
    if (described.length) element.setAttribute('aria-describedby', described.join(' '));
    else element.removeAttribute('aria-describedby');
  }
  for (const message of form.querySelectorAll('.field-error')) message.remove();
  const banner = form.querySelector('.form-error');
  if (banner) {
    banner.hidden = true;
    banner.textContent = '';
  }
}

/** The control a field path names: the exact name first, then shorter prefixes. */
export function controlFor(form, field) {
  if (!field) return null;
  const candidates = [field];
  let path = field;
  while (/[.[]/.test(path)) {
    path = path.replace(/(\.[^.[]*|\[[^\]]*\])$/, '');
    candidates.push(path);
  }
  for (const name of candidates) {
    const element = form.querySelector(`[name="${CSS.escape(name)}"], [data-name="${CSS.escape(name)}"]`);
    if (element) return element;
  }
  return null;
}

/**
 * Shows `error` (an APIError) on `form`: next to the control its `field` names, or in the
 * form's banner when no control matches or the control is hidden (a field of another kind of
 * monitor). Focuses the control. Answers whether a field matched.
 */
export function showError(form, error) {
  clearErrors(form);
  const found = controlFor(form, error.field);
  const control = found && !found.closest('[hidden]') ? found : null;
  if (!control) {
    const banner = form.querySelector('.form-error');
    if (banner) {
      banner.textContent = error.message;
      banner.hidden = false;
      banner.focus?.();
    }
    return false;
  }
  const id = `${control.id || control.dataset.name || 'field'}-error`;
  const message = h('p', { class: 'field-error', id, role: 'alert' }, error.message);
  const wrapper = control.closest('.field') ?? control.parentElement;
  wrapper.append(message);
  control.setAttribute('aria-invalid', 'true');
  const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
  control.setAttribute('aria-describedby', [...described, id].join(' '));
  const details = control.closest('details');
  if (details) details.open = true;
  if (typeof control.focus === 'function') {
    if (!control.hasAttribute('tabindex') && !/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(control.tagName)) {
      control.setAttribute('tabindex', '-1');
    }
    control.focus();
  }
  return true;
}

/**
 * Shows the fields of `form` whose `data-<attribute>` lists `value` (space-separated: a field
 * may belong to several kinds) and hides the others. Hidden controls are disabled too, so Tab
 * skips them; their values stay for a switch back.
 */
export function showFieldsFor(form, attribute, value) {
  const key = attribute.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
  for (const element of form.querySelectorAll(`[data-${attribute}]`)) {
    const shown = element.dataset[key].split(' ').includes(value);
    element.hidden = !shown;
    for (const control of element.querySelectorAll('input, select, textarea')) control.disabled = !shown;
  }
}

/** Disables the form's submit button while `work` runs. */
export async function busy(form, work) {
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    if (button) button.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

/** A text field's value, or null when it is empty. */
export function text(form, name) {
  const value = form.elements[name]?.value.trim() ?? '';
  return value === '' ? null : value;
}

/** A number field's value (null when empty; the text itself when it is not a number, so that
 * the API names the field in its answer). */
export function number(form, name) {
  const value = text(form, name);
  if (value === null) return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : value;
}
