// Notification channels: the list (with "Send test" and its outcome), and a form to add an
// e-mail, Telegram or webhook channel.

import { api } from './api.js';
import { $, h, template, toast, when } from './dom.js';
import { busy, clearErrors, showError, showFieldsFor, text } from './forms.js';

function summary(channel) {
  const config = channel.config ?? {};
  if (channel.type === 'email') return [].concat(config.to ?? []).join(', ');
  if (channel.type === 'telegram') return `chat ${config.chatId ?? '?'}`;
  return config.url ?? '';
}

function outcome(result) {
  if (result.state === 'delivered') return `Delivered${result.lastStatus ? ` (${result.lastStatus})` : ''}.`;
  if (result.state === 'failed') return `Failed: ${result.lastError ?? `status ${result.lastStatus}`}.`;
  return `Still queued after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}${result.lastError ? `: ${result.lastError}` : ''}.`;
}

export function mount(root) {
  root.append(template('channels'));
  const list = $(root, '#channel-list');
  const form = $(root, '#channel-form');

  const draw = (channels) => {
    $(root, '#channel-empty').hidden = channels.length > 0;
    list.replaceChildren(
      ...channels.map((channel) => {
        const result = h('p', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
        const test = h('button', { type: 'button', class: 'btn btn-small' }, 'Send test');
        test.addEventListener('click', async () => {
          test.disabled = true;
          result.className = 'test-result';
          result.textContent = 'Sending…';
          try {
            const answer = await api('POST', `/notification-channels/${channel.id}/test`);
            result.textContent = outcome(answer);
            result.classList.add(answer.delivered ? 'ok' : answer.state === 'failed' ? 'bad' : 'pending');
          } catch (error) {
            result.textContent = error.message;
            result.classList.add('bad');
          } finally {
            test.disabled = false;
          }
        });
        const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, 'Delete');
        remove.addEventListener('click', async () => {
          if (!confirm(`Delete the channel “${channel.name}”?`)) return;
          try {
            await api('DELETE', `/notification-channels/${channel.id}`);
            toast('Channel deleted.');
            load();
          } catch (error) {
            toast(error.message, 'error');
          }
        });
        return h(
          'li',
          { class: 'item', 'data-id': channel.id },
          h(
            'div',
            { class: 'item-main' },
            h('strong', {}, channel.name),
            ' ',
            h('span', { class: 'tag' }, channel.type),
            channel.enabled ? null : h('span', { class: 'tag' }, 'disabled'),
            channel.status === 'failing' ? h('span', { class: 'badge badge-down' }, 'Failing') : null,
            h('span', { class: 'muted item-line' }, summary(channel)),
            channel.lastError ? h('span', { class: 'muted item-line' }, `Last error: ${channel.lastError}`) : null,
            channel.lastDeliveredAt ? h('span', { class: 'muted item-line' }, `Last delivery ${when(channel.lastDeliveredAt)}`) : null,
            result,
          ),
          h('div', { class: 'item-actions' }, test, remove),
        );
      }),
    );
  };

  const load = () =>
    api('GET', '/notification-channels').then(
      (page) => draw(page.data),
      (error) => toast(error.message, 'error'),
    );

  const showType = () => {
    const type = form.elements.type.value;
    showFieldsFor(form, 'for-type', type);
  };
  form.elements.type.addEventListener('change', () => {
    clearErrors(form);
    showType();
  });
  showType();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const type = form.elements.type.value;
    const config = {};
    if (type === 'email') {
      const to = (text(form, 'config.to') ?? '').split(',').map((part) => part.trim()).filter(Boolean);
      config.to = to.length === 1 ? to[0] : to;
    } else if (type === 'telegram') {
      config.botToken = form.elements['config.botToken'].value.trim();
      config.chatId = form.elements['config.chatId'].value.trim();
    } else {
      config.url = form.elements['config.url'].value.trim();
      const secret = form.elements['config.secret'].value;
      if (secret) config.secret = secret;
    }
    const body = { type, config };
    const name = text(form, 'name');
    if (name) body.name = name;
    await busy(form, async () => {
      try {
        const created = await api('POST', '/notification-channels', body);
        form.reset();
        showType();
        const secret = $(root, '#channel-secret');
        secret.hidden = !created.signingSecret;
        if (created.signingSecret) {
          secret.replaceChildren('Signing secret (shown once): ', h('code', {}, created.signingSecret));
        }
        toast(`Channel “${created.channel.name}” added.`);
        load();
      } catch (error) {
        showError(form, error);
      }
    });
  });
  load();
}
