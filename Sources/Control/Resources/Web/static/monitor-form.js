// Create or edit a monitor. The API validates; its errors appear next to the field they name.

import { api } from './api.js';
import { $, h, template, toast } from './dom.js';
import { busy, clearErrors, number, showError, text } from './forms.js';

/** "Name: value" lines as an object; throws a field error for a line without a colon. */
function parseHeaders(source) {
  const headers = {};
  source
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .forEach((line, index) => {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        throw { field: 'headers', message: `Line ${index + 1} is not “Name: value”.` };
      }
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    });
  return Object.keys(headers).length ? headers : null;
}

/** "200, 204" as [200, 204]; a part that is not a number is sent as typed (the API names it). */
function parseStatuses(source) {
  const parts = (source ?? '').split(/[\s,]+/).filter(Boolean);
  if (!parts.length) return null;
  return parts.map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function read(form) {
  const checked = (name) => form.elements[name].checked;
  return {
    name: text(form, 'name'),
    url: form.elements.url.value.trim(),
    method: form.elements.method.value,
    intervalSeconds: number(form, 'intervalSeconds'),
    timeoutMs: number(form, 'timeoutMs'),
    expectedStatus: parseStatuses(text(form, 'expectedStatus')),
    failureThreshold: number(form, 'failureThreshold'),
    recoveryThreshold: number(form, 'recoveryThreshold'),
    notificationChannelIds: [...form.querySelectorAll('#mf-channels input:checked')].map((box) => Number(box.value)),
    paused: checked('paused'),
    keyword: text(form, 'keyword'),
    keywordAbsent: text(form, 'keywordAbsent'),
    jsonPath: text(form, 'jsonPath'),
    jsonEquals: text(form, 'jsonEquals'),
    connectTimeoutMs: number(form, 'connectTimeoutMs'),
    maxRedirects: number(form, 'maxRedirects'),
    followRedirects: checked('followRedirects'),
    verifyTLS: checked('verifyTLS'),
    headers: parseHeaders(form.elements.headers.value),
    body: form.elements.body.value === '' ? null : form.elements.body.value,
  };
}

function fill(form, monitor) {
  const set = (name, value) => {
    form.elements[name].value = value ?? '';
  };
  set('name', monitor.name === monitor.url ? '' : monitor.name);
  set('url', monitor.url);
  set('method', monitor.method);
  set('intervalSeconds', monitor.intervalSeconds);
  set('timeoutMs', monitor.timeoutMs);
  set('expectedStatus', (monitor.expectedStatus ?? []).join(', '));
  set('failureThreshold', monitor.failureThreshold);
  set('recoveryThreshold', monitor.recoveryThreshold);
  form.elements.paused.checked = monitor.paused;
  set('keyword', monitor.keyword);
  set('keywordAbsent', monitor.keywordAbsent);
  set('jsonPath', monitor.jsonPath);
  set('jsonEquals', monitor.jsonEquals);
  set('connectTimeoutMs', monitor.connectTimeoutMs);
  set('maxRedirects', monitor.maxRedirects);
  form.elements.followRedirects.checked = monitor.followRedirects;
  form.elements.verifyTLS.checked = monitor.verifyTLS;
  set('headers', Object.entries(monitor.headers ?? {}).map(([name, value]) => `${name}: ${value}`).join('\n'));
  set('body', monitor.body);
  const advanced = ['keyword', 'keywordAbsent', 'jsonPath', 'headers', 'body'].some((name) => form.elements[name].value);
  if (advanced) $(form, '#mf-advanced').open = true;
}

export function mount(root, [idText], { navigate }) {
  const editing = idText !== undefined;
  const id = editing ? Number(idText) : null;
  root.append(template('monitor-form'));
  const form = $(root, '#monitor-form');
  const controller = new AbortController();
  let selectedChannels = [];
  // The form edits HTTP monitors; of a tcp, dns or tls monitor (made through the API or the
  // monitors file) it changes only the fields every type has, and shows its url read-only.
  let kind = 'http';
  const commonFields = [
    'name', 'intervalSeconds', 'timeoutMs', 'connectTimeoutMs', 'failureThreshold', 'recoveryThreshold',
    'notificationChannelIds', 'paused',
  ];

  if (editing) {
    $(root, '#monitor-form-title').textContent = 'Edit monitor';
    $(root, '#mf-submit').textContent = 'Save changes';
    $(root, '#mf-cancel').href = `#/monitors/${id}`;
  }

  const showChannels = (channels) => {
    const box = $(form, '#mf-channels');
    box.replaceChildren(
      ...channels.map((channel) =>
        h(
          'div',
          { class: 'field-check' },
          h('input', {
            type: 'checkbox',
            id: `mf-channel-${channel.id}`,
            value: channel.id,
            checked: selectedChannels.includes(channel.id),
          }),
          h('label', { for: `mf-channel-${channel.id}` }, `${channel.name} (${channel.type})`),
        ),
      ),
    );
    if (!channels.length) box.append(h('p', { class: 'muted' }, 'No channel yet: ', h('a', { href: '#/channels' }, 'add one'), '.'));
  };

  const loading = [api('GET', '/notification-channels', undefined, { signal: controller.signal })];
  if (editing) loading.push(api('GET', `/monitors/${id}`, undefined, { signal: controller.signal }));
  Promise.all(loading).then(
    ([channels, monitor]) => {
      if (monitor) {
        fill(form, monitor);
        kind = monitor.type ?? 'http';
        if (kind !== 'http') form.elements.url.readOnly = true;
        selectedChannels = monitor.notificationChannelIds ?? [];
      }
      showChannels(channels.data);
    },
    (error) => {
      if (error.name !== 'AbortError') toast(error.message, 'error');
    },
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    let body;
    try {
      body = read(form);
      if (kind !== 'http') {
        const fields = kind === 'tls' ? [...commonFields, 'verifyTLS'] : commonFields;
        body = Object.fromEntries(fields.map((key) => [key, body[key]]));
      }
    } catch (problem) {
      showError(form, problem);
      return;
    }
    await busy(form, async () => {
      try {
        let saved;
        if (editing) {
          saved = await api('PATCH', `/monitors/${id}`, body);
        } else {
          for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
          saved = await api('POST', '/monitors', body);
        }
        toast(editing ? 'Saved.' : `Monitor “${saved.name}” created.`);
        navigate(`#/monitors/${saved.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  form.elements.url.focus();
  return () => controller.abort();
}
