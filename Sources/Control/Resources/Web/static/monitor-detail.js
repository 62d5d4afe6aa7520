// A monitor's detail: state and actions, uptime over 24 h / 7 d / 30 d / 90 d, the response-time
// chart by phase, the recent checks and the incidents. Live from check:update and
// incident:update, or polled when the socket is unavailable.

import { api } from './api.js';
import { $, clock, duration, h, ms, percent, statusBadge, template, toast, when } from './dom.js';
import { phaseChart } from './charts.js';
import { targetLabel } from './kinds.js';

const CHECKS = 120;
const TABLE_ROWS = 25;
const POLL_MS = 5000;
const SLOW_POLL_MS = 30000;

export function mount(root, [idText], { navigate, live }) {
  const id = Number(idText);
  root.append(template('monitor-detail'));
  const view = $(root, '.detail');
  let monitor = null;
  let checks = [];
  let stopped = false;
  const controller = new AbortController();
  const get = (path) => api('GET', path, undefined, { signal: controller.signal });

  const showMonitor = () => {
    statusBadge($(view, '#detail-status'), monitor.status, monitor.paused);
    $(view, '#detail-name').textContent = monitor.name;
    // A tcp, dns or tls monitor has no method: its target (tcp host:port ...) says what it checks.
    const what = monitor.method ? `${monitor.method} ${monitor.url}` : targetLabel(monitor);
    $(view, '#detail-url').textContent = `${what} · every ${monitor.intervalSeconds} s`;
    $(view, '#detail-pause').textContent = monitor.paused ? 'Resume' : 'Pause';
    $(view, '#detail-edit').href = `#/monitors/${id}/edit`;
    document.title = `${monitor.name} · Lookout`;
  };

  const showChecks = () => {
    const chronological = checks.slice().reverse();
    $(view, '#detail-chart').replaceChildren(phaseChart(chronological));
    const body = $(view, '#detail-checks tbody');
    body.replaceChildren(
      ...checks.slice(0, TABLE_ROWS).map((check) =>
        h(
          'tr',
          { class: check.status === 'UP' ? '' : 'failed' },
          h('td', {}, h('time', { datetime: check.checkedAt }, clock(check.checkedAt))),
          h('td', {}, check.status === 'UP' ? 'Up' : `${check.status}${check.errorCode ? ` · ${check.errorCode}` : ''}`),
          h('td', {}, check.httpStatus ? String(check.httpStatus) : '–'),
          h('td', { class: 'num' }, ms(check.totalMs)),
          h('td', { class: 'num' }, ms(check.dnsMs)),
          h('td', { class: 'num' }, ms(check.connectMs)),
          h('td', { class: 'num' }, ms(check.tlsMs)),
          h('td', { class: 'num' }, ms(check.ttfbMs)),
        ),
      ),
    );
    if (!checks.length) body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No checks in the last 24 hours.')));
  };

  const showUptime = (uptime) => {
    for (const cell of view.querySelectorAll('#detail-uptime dd')) {
      const figure = uptime[cell.dataset.window];
      cell.textContent = percent(figure?.uptime);
      cell.title = figure ? `${figure.upChecks.toLocaleString()} of ${figure.checks.toLocaleString()} checks up` : '';
    }
  };

  const showIncidents = (incidents) => {
    const list = $(view, '#detail-incidents');
    list.replaceChildren(
      ...incidents.map((incident) =>
        h(
          'li',
          { class: `incident incident-${incident.state}` },
          h('span', { class: `badge badge-${incident.state === 'open' ? 'down' : 'up'}` }, incident.state === 'open' ? 'Open' : 'Resolved'),
          h('span', {}, ` ${incident.causeStatus}${incident.causeCode ? ` · ${incident.causeCode}` : ''}`),
          h(
            'span',
            { class: 'muted' },
            ` ${when(incident.startedAt)}${incident.state === 'open' ? ', ongoing' : `, ${duration(incident.durationSeconds)}`}`,
          ),
          incident.causeMessage ? h('span', { class: 'incident-message' }, incident.causeMessage) : null,
        ),
      ),
    );
    if (!incidents.length) list.append(h('li', { class: 'muted' }, 'No incidents.'));
  };

  const loadFast = async () => {
    const [fresh, page] = await Promise.all([get(`/monitors/${id}`), get(`/monitors/${id}/checks?limit=${CHECKS}`)]);
    monitor = fresh;
    checks = page.data;
    showMonitor();
    showChecks();
  };
  const loadSlow = async () => {
    const [uptime, incidents] = await Promise.all([
      get(`/monitors/${id}/uptime`),
      get(`/incidents?monitorId=${id}&limit=20`),
    ]);
    showUptime(uptime);
    showIncidents(incidents.data);
  };

  const fail = (error) => {
    if (error.name === 'AbortError' || stopped) return;
    if (error.status === 404) {
      toast('That monitor does not exist (any more).', 'error');
      navigate('#/monitors');
      return;
    }
    toast(error.message, 'error');
  };

  Promise.all([loadFast(), loadSlow()]).then(() => view.setAttribute('data-loaded', 'true'), fail);

  const act = async (button, work) => {
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  };
  $(view, '#detail-check').addEventListener('click', (event) =>
    act(event.currentTarget, async () => {
      await api('POST', `/monitors/${id}/check`);
      toast('Check requested: the result appears here in a moment.');
    }),
  );
  $(view, '#detail-pause').addEventListener('click', (event) =>
    act(event.currentTarget, async () => {
      monitor = await api('POST', `/monitors/${id}/${monitor.paused ? 'resume' : 'pause'}`);
      showMonitor();
      toast(monitor.paused ? 'Paused.' : 'Resumed.');
    }),
  );
  $(view, '#detail-delete').addEventListener('click', (event) =>
    act(event.currentTarget, async () => {
      if (!confirm(`Delete “${monitor?.name ?? 'this monitor'}” and its history?`)) return;
      await api('DELETE', `/monitors/${id}`);
      toast('Monitor deleted.');
      navigate('#/monitors');
    }),
  );

  const offCheck = live.on('check', (update) => {
    if (update.monitorId !== id || !monitor) return;
    if (update.confirmed) monitor = { ...monitor, status: update.confirmed };
    if (update.checkId && checks.some((check) => check.checkId === update.checkId)) return;
    checks = [{ ...update, status: update.checkStatus ?? (update.ok ? 'UP' : 'DOWN') }, ...checks].slice(0, CHECKS);
    showMonitor();
    showChecks();
  });
  const offIncident = live.on('incident', (incident) => {
    if (Number(incident.monitorId) === id) loadSlow().catch(fail);
  });
  let lastSlow = Date.now();
  const timer = setInterval(() => {
    if (document.visibilityState !== 'visible') return;
    if (live.mode !== 'live') loadFast().catch(fail);
    if (Date.now() - lastSlow >= SLOW_POLL_MS) {
      lastSlow = Date.now();
      loadSlow().catch(fail);
    }
  }, POLL_MS);

  return () => {
    stopped = true;
    controller.abort();
    clearInterval(timer);
    offCheck();
    offIncident();
    document.title = 'Lookout';
  };
}
