// Small DOM and formatting helpers shared by the views. No framework: elements are made with
// h() or cloned from the <template> elements the server rendered into the page.

/** An element: h('a', {href: '#/x', class: 'btn'}, 'text', child). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/** A copy of the server-rendered <template id="tpl-NAME">'s content. */
export function template(name) {
  const source = document.getElementById(`tpl-${name}`);
  if (!source) throw new Error(`no template ${name}`);
  return source.content.cloneNode(true);
}

/** The first element matching `selector` in `root`. */
export const $ = (root, selector) => root.querySelector(selector);

/** "123 ms", "1.24 s". */
export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  return `${value.toFixed(value >= 10 ? 0 : 1)} ms`;
}

/** "99.95%" (never rounded up to 100%), or "–" without data. */
export function percent(fraction) {
  if (fraction === null || fraction === undefined) return '–';
  return `${(Math.floor(fraction * 10000) / 100).toFixed(2)}%`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(time, now = Date.now()) {
  if (!time) return 'never';
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** A duration in seconds as "3 h 12 min". */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86400);
  const hr = Math.floor((total % 86400) / 3600);
  const min = Math.floor((total % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${min} min`;
  if (min) return `${min} min`;
  return `${total} s`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A local date and time. */
export const when = (iso) => (iso ? dateTime.format(new Date(iso)) : '–');
/** A local time of day. */
export const clock = (iso) => (iso ? shortTime.format(new Date(iso)) : '–');

/** Confirmed state → badge class and text. */
export function statusBadge(element, status, paused) {
  const key = paused ? 'paused' : (status ?? 'UNKNOWN').toLowerCase();
  const label = paused ? 'Paused' : { up: 'Up', down: 'Down' }[key] ?? 'Unknown';
  element.className = `badge badge-${key}`;
  element.textContent = label;
}

/** A short message in the corner, read out by screen readers. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const item = h('p', { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** Runs `fn` at most once per `wait` ms, after the calls stop. */
export function debounce(fn, wait) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
