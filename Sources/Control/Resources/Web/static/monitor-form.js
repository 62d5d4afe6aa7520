// Create or edit a monitor of any kind (HTTP, TCP, DNS, TLS). The kind picker shows that kind's
// fields only; the API validates, and its errors appear next to the field they name.

import { api } from './api.js';
import { $, h, template, toast } from './dom.js';
import { busy, clearErrors, number, showError, showFieldsFor, text } from './forms.js';
import { derivedURL } from './kinds.js';

/** One line under the kind picker: what a check of that kind does. */
const KIND_HINTS = {
  http: 'A web request and its answer.',
  tcp: 'A TCP connection to a port; optionally a line sent and a reply it must contain.',
  dns: 'One DNS query; UP when the server answers with records of the type.',
  tls: 'A TLS handshake; DOWN when the certificate does not verify or expires soon.',
};

/** Placeholders of the host and port that TCP and TLS share. */
const TARGET_EXAMPLES = {
  tcp: { host: 'db.example.com', port: '5432' },
  tls: { host: 'example.com', port: '443' },
};

/** The field a kind's edit starts on. */
const FIRST_FIELD = { http: 'url', tcp: 'host', dns: 'dnsName', tls: 'host' };

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

const ESCAPES = { r: '\r', n: '\n', t: '\t', '\\': '\\' };

/** `PING\r\n` as typed into a one-line field → the text with CR LF; an unknown escape stays as typed. */
function unescapeText(typed) {
  return typed.replace(/\\([rnt\\])/g, (_, letter) => ESCAPES[letter]);
}

/** The reverse of unescapeText, for showing a stored `send` or `expect`. */
function escapeText(stored) {
  return stored.replace(/[\\\r\n\t]/g, (character) =>
    character === '\\' ? '\\\\' : character === '\r' ? '\\r' : character === '\n' ? '\\n' : '\\t',
  );
}

/** A one-line field that may carry control characters: null when empty, spaces kept. */
function rawText(form, name) {
  const value = form.elements[name].value;
  return value === '' ? null : unescapeText(value);
}

/** One value per line; null when there is none. */
function lines(form, name) {
  const values = form.elements[name].value
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return values.length ? values : null;
}

/** The request body for a monitor of `kind`: the fields every kind has, then the kind's own. */
function read(form, kind) {
  const checked = (name) => form.elements[name].checked;
  const common = {
    type: kind,
    name: text(form, 'name'),
    intervalSeconds: number(form, 'intervalSeconds'),
    timeoutMs: number(form, 'timeoutMs'),
    connectTimeoutMs: number(form, 'connectTimeoutMs'),
    failureThreshold: number(form, 'failureThreshold'),
    recoveryThreshold: number(form, 'recoveryThreshold'),
    notificationChannelIds: [...form.querySelectorAll('#mf-channels input:checked')].map((box) => Number(box.value)),
    paused: checked('paused'),
  };
  switch (kind) {
    case 'tcp':
      return { ...common, host: text(form, 'host'), port: number(form, 'port'), send: rawText(form, 'send'), expect: rawText(form, 'expect') };
    case 'dns':
      return {
        ...common,
        dnsName: text(form, 'dnsName'),
        recordType: form.elements.recordType.value,
        server: text(form, 'server'),
        expectedValues: lines(form, 'expectedValues'),
      };
    case 'tls':
      return {
        ...common,
        host: text(form, 'host'),
        port: number(form, 'port'),
        certMinDaysLeft: number(form, 'certMinDaysLeft'),
        verifyTLS: checked('verifyTLS'),
      };
    default:
      return {
        ...common,
        url: form.elements.url.value.trim(),
        method: form.elements.method.value,
        expectedStatus: parseStatuses(text(form, 'expectedStatus')),
        keyword: text(form, 'keyword'),
        keywordAbsent: text(form, 'keywordAbsent'),
        jsonPath: text(form, 'jsonPath'),
        jsonEquals: text(form, 'jsonEquals'),
        maxRedirects: number(form, 'maxRedirects'),
        followRedirects: checked('followRedirects'),
        verifyTLS: checked('verifyTLS'),
        headers: parseHeaders(form.elements.headers.value),
        body: form.elements.body.value === '' ? null : form.elements.body.value,
        httpVersion: form.elements.httpVersion.value,
        acceptEncoding: checked('acceptEncoding'),
        tlsSessionReuse: checked('tlsSessionReuse'),
        tlsFullHandshakeSeconds: number(form, 'tlsFullHandshakeSeconds'),
      };
  }
}

/** Fields whose stored value the form shows as it is (text, number or select). */
const SHOWN_AS_STORED = [
  'method', 'intervalSeconds', 'timeoutMs', 'connectTimeoutMs', 'failureThreshold', 'recoveryThreshold', 'keyword',
  'keywordAbsent', 'jsonPath', 'jsonEquals', 'maxRedirects', 'body', 'httpVersion', 'tlsFullHandshakeSeconds', 'host',
  'port', 'dnsName', 'recordType', 'server', 'certMinDaysLeft',
];
/** Check boxes. */
const TICKED_AS_STORED = ['paused', 'followRedirects', 'verifyTLS', 'acceptEncoding', 'tlsSessionReuse'];

/**
 * Puts a stored monitor's values into the form. The API answers null for the fields of other
 * kinds: those keep the form's defaults, ready for a switch of kind.
 */
function fill(form, monitor) {
  const given = (value) => value !== null && value !== undefined;
  const set = (name, value) => {
    if (given(value)) form.elements[name].value = value;
  };
  for (const name of SHOWN_AS_STORED) set(name, monitor[name]);
  for (const name of TICKED_AS_STORED) {
    if (given(monitor[name])) form.elements[name].checked = monitor[name];
  }
  form.elements.name.value = monitor.name === monitor.url ? '' : monitor.name;
  set('url', monitor.type === 'http' ? monitor.url : null);
  set('expectedStatus', monitor.expectedStatus?.join(', '));
  set('headers', monitor.headers && Object.entries(monitor.headers).map(([name, value]) => `${name}: ${value}`).join('\n'));
  set('send', given(monitor.send) ? escapeText(monitor.send) : null);
  set('expect', given(monitor.expect) ? escapeText(monitor.expect) : null);
  set('expectedValues', monitor.expectedValues?.join('\n'));
}

/** Whether the Advanced section holds a setting of `kind` that differs from its default. */
function advancedInUse(form, kind) {
  const elements = form.elements;
  if (kind === 'tls') return !elements.verifyTLS.checked;
  if (kind !== 'http') return false;
  return (
    ['keyword', 'keywordAbsent', 'jsonPath', 'headers', 'body'].some((name) => elements[name].value) ||
    elements.httpVersion.value !== '1.1' ||
    elements.acceptEncoding.checked ||
    elements.tlsSessionReuse.checked
  );
}

/** Shows the fields of `kind` only (the others are hidden and disabled, their values kept). */
function showKind(form, kind) {
  showFieldsFor(form, 'kind', kind);
  const examples = TARGET_EXAMPLES[kind];
  if (examples) {
    form.elements.host.placeholder = examples.host;
    form.elements.port.placeholder = examples.port;
  }
  $(form, '#mf-kind-hint').textContent = KIND_HINTS[kind];
  form.dataset.kind = kind;
}

export function mount(root, [idText], { navigate }) {
  const editing = idText !== undefined;
  const id = editing ? Number(idText) : null;
  root.append(template('monitor-form'));
  const form = $(root, '#monitor-form');
  const controller = new AbortController();
  let selectedChannels = [];
  // The monitor as stored (editing only): its kind and whether its name is the derived default.
  let stored = null;
  let kind = 'http';

  if (editing) {
    $(root, '#monitor-form-title').textContent = 'Edit monitor';
    $(root, '#mf-submit').textContent = 'Save changes';
    $(root, '#mf-cancel').href = `#/monitors/${id}`;
    // Saving needs the stored monitor (its kind decides PATCH or PUT): not before it is loaded.
    $(root, '#mf-submit').disabled = true;
  }

  // A TLS certificate is nearly always on 443: an empty port is offered 443 while TLS is picked,
  // and the offer is taken back on a switch to TCP unless the user has typed since.
  const port = form.elements.port;
  let portOffered = false;
  port.addEventListener('input', () => {
    portOffered = false;
  });
  const chooseKind = (next) => {
    kind = next;
    form.querySelector(`input[name="type"][value="${kind}"]`).checked = true;
    if (kind === 'tls' && port.value === '') {
      port.value = '443';
      portOffered = true;
    } else if (kind !== 'tls' && portOffered) {
      port.value = '';
      portOffered = false;
    }
    showKind(form, kind);
    clearErrors(form);
  };
  for (const radio of form.querySelectorAll('input[name="type"]')) {
    radio.addEventListener('change', () => chooseKind(radio.value));
  }
  showKind(form, kind);

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
        stored = monitor;
        fill(form, monitor);
        chooseKind(monitor.type ?? 'http');
        if (advancedInUse(form, kind)) $(form, '#mf-advanced').open = true;
        selectedChannels = monitor.notificationChannelIds ?? [];
        form.dataset.loaded = 'true';
        $(form, '#mf-submit').disabled = false;
        form.elements[FIRST_FIELD[kind]].focus();
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
      body = read(form, kind);
    } catch (problem) {
      showError(form, problem);
      return;
    }
    // A name left empty is the derived url (the API's default when creating); keep it following
    // the target when the stored name was that default too.
    if (editing && body.name === null && stored.name === stored.url) {
      body.name = [...derivedURL(body)].slice(0, 200).join('');
    }
    await busy(form, async () => {
      try {
        let saved;
        if (!editing) {
          for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
          saved = await api('POST', '/monitors', body);
        } else if (kind === (stored.type ?? 'http')) {
          // PATCH: what the form does not show (maxBodyBytes, reuseConnection ...) stays as stored.
          saved = await api('PATCH', `/monitors/${id}`, body);
        } else {
          // Another kind: a full replacement, so that no field of the old kind is left behind.
          saved = await api('PUT', `/monitors/${id}`, body);
        }
        toast(editing ? 'Saved.' : `Monitor “${saved.name}” created.`);
        navigate(`#/monitors/${saved.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  if (!editing) form.elements[FIRST_FIELD[kind]].focus();
  return () => controller.abort();
}
