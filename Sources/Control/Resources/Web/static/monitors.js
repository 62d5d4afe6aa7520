// The monitor list: every monitor of the user, fetched in cursor pages (100 first, then 500; the
// first page is on screen while the rest arrive), filtered on the server (status, paused, text),
// drawn with a virtual list that keeps only the visible rows (plus a few) in the DOM, so 10,000
// monitors scroll like 50. Rows update live from check:update events, or by polling the visible
// pages.

import { api, query } from './api.js';
import { $, ago, debounce, ms, statusBadge, template } from './dom.js';
import { sparkline } from './charts.js';
import { targetLabel } from './kinds.js';

const PAGE = 500;
// The first page is smaller: on screen sooner; the rest comes 500 at a time behind it.
const FIRST_PAGE = 100;
const OVERSCAN = 6;
const POLL_MS = 4000;
const LIVE_REFRESH_MS = 30000;
const SPARK_POINTS = 30;
const SPARK_CONCURRENCY = 3;
const SPARK_PER_SECOND = 8;
const SPARK_FRESH_MS = 120000;

/** Sparkline points by monitor id, kept across visits of the list: {points, version, lastCheckId, loadedAt}. */
const sparks = new Map();
let sparkVersion = 0;

/** The row model: what a row shows of a monitor (the API's full object is not kept). */
export function compact(monitor) {
  const check = monitor.lastCheck;
  return {
    id: monitor.id,
    name: monitor.name,
    url: monitor.url,
    // What it checks: the URL, or `tcp host:port`, `dns MX name`, `tls host:port`.
    target: targetLabel(monitor),
    kind: monitor.type ?? 'http',
    status: monitor.status,
    paused: monitor.paused,
    flapping: monitor.flapping,
    latency: check ? check.totalMs : null,
    checkedAt: check ? Date.parse(check.checkedAt) : null,
    checkOk: check ? check.status === 'UP' : null,
    checkId: check ? check.checkId : null,
  };
}

/** The index of the first row whose id is greater than `id` (rows are sorted by id). */
function upperBound(rows, id) {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (rows[mid].id <= id) low = mid + 1;
    else high = mid;
  }
  return low;
}

function addSparkPoint(id, checkId, point) {
  const entry = sparks.get(id);
  if (!entry || !checkId || entry.lastCheckId === checkId) return false;
  entry.points = [...entry.points.slice(-(SPARK_POINTS - 1)), point];
  entry.lastCheckId = checkId;
  entry.version = ++sparkVersion;
  return true;
}

/** The monitors of one filter, in id order, and the cursor of each page they came in. */
class MonitorStore {
  constructor(filters, onChange) {
    this.filters = filters;
    this.onChange = onChange;
    this.rows = [];
    this.pages = [];
    this.complete = false;
    this.controller = new AbortController();
  }

  abort() {
    this.controller.abort();
  }

  async fetchPage(cursor, limit = PAGE) {
    return api('GET', `/monitors${query({ ...this.filters, limit, cursor })}`, undefined, {
      signal: this.controller.signal,
    });
  }

  /** Every page, one after another; onChange after each. */
  async loadAll() {
    let cursor = null;
    let after = 0;
    for (;;) {
      const page = await this.fetchPage(cursor, cursor === null ? FIRST_PAGE : PAGE);
      this.pages.push({ cursor, after });
      for (const monitor of page.data) this.rows.push(compact(monitor));
      if (!page.nextCursor || !page.data.length) break;
      this.onChange('page');
      after = page.data[page.data.length - 1].id;
      cursor = page.nextCursor;
    }
    this.complete = true;
    this.onChange('complete');
  }

  /** Fetches again the pages that hold rows `from` to `to` and puts their answer in place. */
  async refresh(from, to) {
    if (!this.rows.length && this.complete) {
      await this.replaceRange(0, await this.fetchPage(null));
      return;
    }
    const first = this.rows[Math.max(0, Math.min(from, this.rows.length - 1))];
    const last = this.rows[Math.max(0, Math.min(to, this.rows.length - 1))];
    if (!first || !last) return;
    const wanted = this.pages.filter((page, index) => {
      const next = this.pages[index + 1];
      return page.after < last.id && (!next || next.after >= first.id);
    });
    for (const page of wanted) {
      const answer = await this.fetchPage(page.cursor);
      this.replaceRange(page.after, answer);
    }
  }

  replaceRange(after, answer) {
    const rows = answer.data.map(compact);
    const upper = answer.nextCursor && rows.length ? rows[rows.length - 1].id : Infinity;
    const start = upperBound(this.rows, after);
    const end = upper === Infinity ? this.rows.length : upperBound(this.rows, upper);
    for (const row of rows) {
      addSparkPoint(row.id, row.checkId, { ms: row.latency ?? 0, ok: row.checkOk });
    }
    this.rows.splice(start, end - start, ...rows);
    this.onChange('refresh');
  }

  /** Applies a check:update; answers the row's index when a row changed. */
  applyCheck(update) {
    const index = upperBound(this.rows, update.monitorId) - 1;
    const row = this.rows[index];
    if (!row || row.id !== update.monitorId) return -1;
    const checkedAt = update.checkedAt ? Date.parse(update.checkedAt) : Date.now();
    this.rows[index] = {
      ...row,
      status: update.confirmed ?? row.status,
      latency: update.totalMs ?? row.latency,
      checkedAt,
      checkOk: update.ok,
      checkId: update.checkId ?? row.checkId,
    };
    addSparkPoint(row.id, update.checkId ?? `live-${checkedAt}`, { ms: update.totalMs ?? 0, ok: update.ok });
    return index;
  }
}

/** Rows of equal height in a scrolling box; only those in view (and a few more) exist. */
class VirtualList {
  constructor(scroller, space, fill) {
    this.scroller = scroller;
    this.space = space;
    this.fill = fill;
    this.rows = [];
    this.used = new Map();
    this.pool = [];
    this.tick = 0;
    this.frame = 0;
    this.measure();
  }

  measure() {
    const value = parseFloat(getComputedStyle(this.scroller).getPropertyValue('--row-height'));
    this.rowHeight = Number.isFinite(value) && value > 0 ? value : 48;
  }

  setRows(rows) {
    this.rows = rows;
    this.space.style.height = `${rows.length * this.rowHeight}px`;
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  /** The visible index range [first, last). */
  visible() {
    const top = this.scroller.scrollTop;
    const first = Math.floor(top / this.rowHeight);
    const last = Math.ceil((top + this.scroller.clientHeight) / this.rowHeight);
    return [Math.max(0, first), Math.min(this.rows.length, last)];
  }

  render() {
    this.frame = 0;
    const [shownFirst, shownLast] = this.visible();
    const first = Math.max(0, shownFirst - OVERSCAN);
    const last = Math.min(this.rows.length, shownLast + OVERSCAN);
    const focused = document.activeElement;
    for (const [index, element] of this.used) {
      if (index >= first && index < last) continue;
      if (element.contains(focused) && index < this.rows.length) continue;
      this.used.delete(index);
      element.hidden = true;
      this.pool.push(element);
    }
    for (let index = first; index < last; index++) {
      let element = this.used.get(index);
      if (!element) {
        element = this.pool.pop() ?? this.create();
        element.hidden = false;
        element._index = -1;
        this.used.set(index, element);
      }
      const row = this.rows[index];
      if (element._row !== row || element._index !== index || element._tick !== this.tick || element._spark !== sparks.get(row.id)?.version) {
        this.fill(element, row, index);
        element._row = row;
        element._tick = this.tick;
        element._spark = sparks.get(row.id)?.version;
        if (element._index !== index) {
          element._index = index;
          element.style.transform = `translateY(${index * this.rowHeight}px)`;
        }
      }
    }
    // Keep the DOM in row order for Tab, unless that would move the focused row.
    if (!this.scroller.contains(focused)) {
      const ordered = [...this.used.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
      let previous = null;
      for (const element of ordered) {
        if (previous ? previous.nextElementSibling !== element : this.space.firstElementChild !== element) {
          this.space.insertBefore(element, previous ? previous.nextElementSibling : this.space.firstElementChild);
        }
        previous = element;
      }
    }
    this.onRender?.(shownFirst, shownLast);
  }

  create() {
    const element = template('monitor-row').firstElementChild;
    this.space.append(element);
    return element;
  }

  /** Scrolls row `index` into view and focuses its link. */
  focusRow(index) {
    index = Math.max(0, Math.min(this.rows.length - 1, index));
    const top = index * this.rowHeight;
    const bottom = top + this.rowHeight;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (bottom > this.scroller.scrollTop + this.scroller.clientHeight) {
      this.scroller.scrollTop = bottom - this.scroller.clientHeight;
    }
    this.render();
    this.used.get(index)?.querySelector('a.name')?.focus({ preventScroll: true });
  }
}

function fillRow(element, row, index) {
  element.dataset.id = row.id;
  element.dataset.status = row.paused ? 'PAUSED' : row.status;
  element.setAttribute('aria-rowindex', index + 2);
  const cells = element.children;
  statusBadge(cells[0].firstElementChild, row.status, row.paused);
  const link = cells[1].firstElementChild;
  link.href = `#/monitors/${row.id}`;
  link.textContent = row.name;
  // An HTTP monitor named by its URL needs no second line; the other kinds always show theirs
  // (their default name is a URL such as tcp://db:5432, the line says it in words).
  cells[1].lastElementChild.textContent = row.kind === 'http' && row.name === row.url ? '' : row.target;
  const spark = sparks.get(row.id);
  cells[2].replaceChildren(sparkline(spark ? spark.points : [], { count: SPARK_POINTS }));
  cells[3].textContent = row.latency === null ? '–' : ms(row.latency);
  cells[3].classList.toggle('failed', row.checkOk === false);
  cells[4].textContent = row.paused ? 'paused' : ago(row.checkedAt);
}

let firstMount = true;

export function mount(root, _params, { query: hashQuery, live }) {
  root.append(template('monitors'));
  const form = $(root, '#monitor-filters');
  const table = $(root, '#monitor-table');
  const scroller = $(root, '#monitor-scroll');
  const summary = $(root, '#monitor-summary');
  const empty = $(root, '#monitor-empty');
  for (const name of ['q', 'status', 'paused']) form.elements[name].value = hashQuery.get(name) ?? '';

  const list = new VirtualList(scroller, $(root, '#monitor-space'), fillRow);
  let store = null;
  let summaryFrame = 0;
  let marked = !firstMount;
  firstMount = false;

  const showSummary = () => {
    summaryFrame = 0;
    if (!store) return;
    const counts = { UP: 0, DOWN: 0, UNKNOWN: 0, paused: 0 };
    for (const row of store.rows) {
      if (row.paused) counts.paused += 1;
      else counts[row.status] = (counts[row.status] ?? 0) + 1;
    }
    const total = store.rows.length.toLocaleString();
    const parts = [
      `${total} monitor${store.rows.length === 1 ? '' : 's'}${store.complete ? '' : ' so far, loading…'}`,
      `${counts.UP.toLocaleString()} up`,
      `${counts.DOWN.toLocaleString()} down`,
    ];
    if (counts.UNKNOWN) parts.push(`${counts.UNKNOWN.toLocaleString()} unknown`);
    if (counts.paused) parts.push(`${counts.paused.toLocaleString()} paused`);
    summary.textContent = parts.join(' · ');
    table.dataset.loaded = String(store.rows.length);
    table.dataset.complete = String(store.complete);
    empty.hidden = !(store.complete && store.rows.length === 0);
  };
  const scheduleSummary = () => {
    if (!summaryFrame) summaryFrame = requestAnimationFrame(showSummary);
  };

  const load = () => {
    store?.abort();
    const filters = {
      q: form.elements.q.value.trim(),
      status: form.elements.status.value,
      paused: form.elements.paused.value,
    };
    const current = new MonitorStore(filters, (what) => {
      if (store !== current) return;
      list.setRows(current.rows);
      scheduleSummary();
      if (!marked) {
        // The first page is in the DOM and every handler is attached: the list is usable.
        marked = true;
        list.render();
        performance.mark('lookout:list-interactive');
        requestAnimationFrame(() => setTimeout(() => performance.mark('lookout:list-painted'), 0));
      }
      if (what === 'complete') performance.mark('lookout:list-complete');
    });
    store = current;
    table.dataset.complete = 'false';
    scroller.scrollTop = 0;
    list.setRows([]);
    summary.textContent = 'Loading monitors…';
    current.loadAll().catch((error) => {
      if (error.name === 'AbortError' || store !== current) return;
      summary.textContent = `Could not load the monitors: ${error.message}`;
    });
    const search = new URLSearchParams(Object.entries(filters).filter(([, value]) => value !== ''));
    const hash = `#/monitors${search.toString() ? `?${search}` : ''}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  };

  // Sparklines of the rows in view, fetched when scrolling stops, a few at a time.
  const queue = [];
  let inFlight = 0;
  let tokens = SPARK_PER_SECOND;
  let pausedUntil = 0;
  const refill = setInterval(() => {
    tokens = Math.min(SPARK_PER_SECOND, tokens + SPARK_PER_SECOND / 4);
    pump();
  }, 250);
  const pump = () => {
    while (inFlight < SPARK_CONCURRENCY && queue.length && tokens >= 1 && Date.now() >= pausedUntil) {
      const id = queue.shift();
      const [first, last] = list.visible();
      const stillVisible = list.rows.slice(Math.max(0, first - OVERSCAN), last + OVERSCAN).some((row) => row.id === id);
      const known = sparks.get(id);
      if (!stillVisible || (known && Date.now() - known.loadedAt < SPARK_FRESH_MS)) continue;
      tokens -= 1;
      inFlight += 1;
      api('GET', `/monitors/${id}/checks?limit=${SPARK_POINTS}`)
        .then((page) => {
          const checks = page.data.slice().reverse();
          sparks.set(id, {
            points: checks.map((check) => ({ ms: check.totalMs, ok: check.status === 'UP' })),
            lastCheckId: checks.length ? checks[checks.length - 1].checkId : null,
            loadedAt: Date.now(),
            version: ++sparkVersion,
          });
          list.schedule();
        })
        .catch((error) => {
          if (error.status === 429) pausedUntil = Date.now() + 1000 * (Number(error.retryAfter) || 5);
        })
        .finally(() => {
          inFlight -= 1;
          pump();
        });
    }
  };
  const requestSparks = debounce(() => {
    const [first, last] = list.visible();
    queue.length = 0;
    for (const row of list.rows.slice(first, last)) {
      const known = sparks.get(row.id);
      if (!known || Date.now() - known.loadedAt >= SPARK_FRESH_MS) queue.push(row.id);
    }
    pump();
  }, 150);
  list.onRender = () => requestSparks();

  scroller.addEventListener('scroll', () => list.schedule(), { passive: true });
  const onResize = () => {
    list.measure();
    list.setRows(list.rows);
  };
  window.addEventListener('resize', onResize);
  scroller.addEventListener('keydown', (event) => {
    const row = event.target.closest('.vrow');
    if (!row) return;
    const page = Math.max(1, Math.floor(scroller.clientHeight / list.rowHeight) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (event.key in moves) list.focusRow(row._index + moves[event.key]);
    else if (event.key === 'Home' && event.ctrlKey) list.focusRow(0);
    else if (event.key === 'End' && event.ctrlKey) list.focusRow(list.rows.length - 1);
    else return;
    event.preventDefault();
  });

  const reload = debounce(load, 250);
  form.addEventListener('input', (event) => {
    if (event.target.name === 'q') reload();
  });
  form.addEventListener('change', (event) => {
    if (event.target.name !== 'q') load();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    reload.cancel();
    load();
  });

  // Live updates when the socket is up; otherwise (and now and then anyway) the visible pages.
  const offCheck = live.on('check', (update) => {
    if (!store) return;
    const index = store.applyCheck(update);
    if (index < 0) return;
    list.rows = store.rows;
    const [first, last] = list.visible();
    if (index >= first - OVERSCAN && index < last + OVERSCAN) list.schedule();
    scheduleSummary();
  });
  const offIncident = live.on('incident', () => scheduleSummary());
  let lastRefresh = Date.now();
  let refreshing = false;
  const poll = setInterval(async () => {
    if (!store || refreshing || document.visibilityState !== 'visible') return;
    const interval = live.mode === 'live' ? LIVE_REFRESH_MS : POLL_MS;
    if (Date.now() - lastRefresh < interval) {
      list.tick += 1; // "12 s ago" moves on
      list.schedule();
      return;
    }
    if (!store.complete) return;
    refreshing = true;
    lastRefresh = Date.now();
    const [first, last] = list.visible();
    try {
      await store.refresh(first, Math.max(first, last - 1));
    } catch {
      // The next round tries again.
    } finally {
      refreshing = false;
    }
  }, 1000);

  load();
  return () => {
    store?.abort();
    store = null;
    clearInterval(poll);
    clearInterval(refill);
    requestSparks.cancel();
    reload.cancel();
    offCheck();
    offIncident();
    window.removeEventListener('resize', onResize);
    cancelAnimationFrame(list.frame);
  };
}
