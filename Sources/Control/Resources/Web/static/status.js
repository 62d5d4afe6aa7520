// A public status page keeps itself current: it polls the page's public JSON (the same data the
// server rendered it from; ETag-revalidated, so an unchanged page costs a 304) every 30 seconds
// while visible, and redraws what changed. Without JavaScript the page is complete as served.

const slug = document.body.dataset.slug;
const REFRESH_MS = 30000;
const BAR_PITCH = 5;
const SVG = 'http://www.w3.org/2000/svg';

const headlines = {
  operational: 'All systems operational',
  degraded: 'Partial outage',
  down: 'Major outage',
  unknown: 'Status unknown',
};
const labels = { UP: 'Operational', DOWN: 'Down', PAUSED: 'Paused', UNKNOWN: 'Unknown' };
const causes = { TIMEOUT: 'Timed out', ERROR: 'Unreachable' };

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function percent(uptime) {
  return `${(Math.floor(uptime * 10000) / 100).toFixed(2)}%`;
}

function level(uptime) {
  if (uptime === null || uptime === undefined) return 'none';
  if (uptime >= 0.999) return 'up';
  if (uptime >= 0.95) return 'partial';
  return 'down';
}

function utc(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86400);
  const hr = Math.floor((total % 86400) / 3600);
  const min = Math.floor((total % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${min} min`;
  if (min) return `${min} min`;
  return `${total} s`;
}

function time(iso) {
  const element = el('time', null, utc(iso));
  element.dateTime = new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return element;
}

function service(monitor) {
  const item = el('li', 'service');
  const head = el('div', 'service-head');
  const status = monitor.status.toLowerCase();
  head.append(el('span', 'service-name', monitor.name), el('span', `service-status status-${status}`, labels[monitor.status] ?? 'Unknown'));
  const uptime = monitor.uptime90d === null ? 'no data' : percent(monitor.uptime90d);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'bars');
  svg.setAttribute('viewBox', '0 0 450 28');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Daily uptime of ${monitor.name} over ${monitor.days.length} days: ${uptime} overall`);
  monitor.days.forEach((day, index) => {
    const rect = document.createElementNS(SVG, 'rect');
    for (const [name, value] of Object.entries({ x: index * BAR_PITCH, y: 0, width: 4, height: 28, rx: 1 })) {
      rect.setAttribute(name, value);
    }
    rect.setAttribute('class', `day day-${level(day.uptime)}`);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${day.date}: ${day.uptime === null ? 'no data' : percent(day.uptime)}`;
    rect.append(title);
    svg.append(rect);
  });
  const foot = el('div', 'service-foot');
  foot.append(el('span', null, '90 days ago'), el('span', 'uptime', `${uptime} uptime`), el('span', null, 'Today'));
  item.append(head, svg, foot);
  return item;
}

function incident(entry) {
  const item = el('li', `incident${entry.resolvedAt ? '' : ' incident-ongoing'}`);
  item.append(el('span', 'incident-name', `${entry.monitorName}: ${causes[entry.causeStatus] ?? 'Down'}`));
  const when = el('span', 'incident-time');
  if (entry.resolvedAt) {
    when.append(time(entry.startedAt), ` for ${duration((Date.parse(entry.resolvedAt) - Date.parse(entry.startedAt)) / 1000)}`);
  } else {
    when.append('Ongoing since ', time(entry.startedAt));
  }
  item.append(when);
  return item;
}

function replaceEmpty(list, id, show, text) {
  let empty = document.getElementById(id);
  if (show && !empty) {
    empty = el('p', 'empty', text);
    empty.id = id;
    list.after(empty);
  } else if (!show && empty) {
    empty.remove();
  }
}

let lastBody = '';

function draw(page) {
  const body = JSON.stringify(page);
  if (body === lastBody) return;
  lastBody = body;
  document.getElementById('page-title').textContent = page.title;
  document.title = `${page.title} status`;
  const overall = document.getElementById('overall');
  overall.className = `overall overall-${page.status}`;
  document.getElementById('overall-text').textContent = headlines[page.status] ?? headlines.unknown;
  const services = document.getElementById('services');
  services.replaceChildren(...page.monitors.map(service));
  replaceEmpty(services, 'services-empty', page.monitors.length === 0, 'No services are listed on this page.');
  const incidents = document.getElementById('incidents');
  incidents.replaceChildren(...page.incidents.map(incident));
  replaceEmpty(incidents, 'incidents-empty', page.incidents.length === 0, 'No incidents in the last 90 days.');
}

async function refresh() {
  if (document.visibilityState !== 'visible') return;
  try {
    const response = await fetch(`/api/v1/public/status-pages/${encodeURIComponent(slug)}`, {
      headers: { Accept: 'application/json' },
    });
    if (!response.ok) return;
    draw(await response.json());
    const stamp = document.getElementById('refreshed');
    stamp.textContent = `Times in UTC. Updated ${new Date().toLocaleTimeString()}.`;
    document.body.dataset.refreshed = String(Date.now());
  } catch {
    // Offline for a moment: the page stays as it is and the next round tries again.
  }
}

if (slug) {
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
  refresh();
}
