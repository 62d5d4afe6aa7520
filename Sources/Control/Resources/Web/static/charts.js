// SVG charts drawn with paths (one per series, not one element per point), so that a list of
// many rows and a chart of many checks stay cheap to draw.

import { ms, s } from './dom.js';

/**
 * The sparkline of a monitor row: one bar per check, oldest left, height by total time against
 * the slowest shown, failed checks full height in the failure colour.
 */
export function sparkline(points, { width = 120, height = 24, count = 30 } = {}) {
  const shown = points.slice(-count);
  const svg = s('svg', {
    class: 'spark',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    'aria-hidden': 'true',
    focusable: 'false',
  });
  if (!shown.length) return svg;
  const pitch = width / count;
  const bar = Math.max(1, pitch - 1);
  const slowest = Math.max(1, ...shown.map((p) => (p.ok ? p.ms : 0)));
  let good = '';
  let bad = '';
  const offset = (count - shown.length) * pitch;
  shown.forEach((point, index) => {
    const x = (offset + index * pitch).toFixed(1);
    if (!point.ok) {
      bad += `M${x} 0h${bar}v${height}h${-bar}z`;
      return;
    }
    const barHeight = Math.max(2, (point.ms / slowest) * (height - 2));
    good += `M${x} ${(height - barHeight).toFixed(1)}h${bar}v${barHeight.toFixed(1)}h${-bar}z`;
  });
  if (good) svg.append(s('path', { d: good, class: 'spark-ok' }));
  if (bad) svg.append(s('path', { d: bad, class: 'spark-fail' }));
  return svg;
}

export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'];

/**
 * A check's time split into phases that add up to its total: DNS, TCP connect, TLS handshake,
 * server time to first byte (curl's starttransfer less connect and TLS) and the transfer after it.
 */
export function phasesOf(check) {
  const dns = Math.max(0, check.dnsMs ?? 0);
  const connect = Math.max(0, check.connectMs ?? 0);
  const tls = Math.max(0, check.tlsMs ?? 0);
  const ttfb = Math.max(0, (check.ttfbMs ?? 0) - connect - tls);
  const transfer = Math.max(0, (check.totalMs ?? 0) - dns - connect - tls - ttfb);
  return { dns, connect, tls, ttfb, transfer };
}

/** A round axis maximum above `value` (1, 2, 2.5 or 5 times a power of ten). */
export function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

/**
 * The response-time chart of a monitor's detail: stacked bars by phase for `checks` (oldest
 * first), failed checks as a mark under the axis, a y axis in ms and the times of the first and
 * last check. Each bar has a tooltip with its figures.
 */
export function phaseChart(checks, { width = 760, height = 240 } = {}) {
  const margin = { top: 10, right: 8, bottom: 34, left: 52 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const svg = s('svg', {
    class: 'phase-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Response time by phase for the last ${checks.length} checks`,
    preserveAspectRatio: 'none',
  });
  if (!checks.length) {
    svg.append(s('text', { x: width / 2, y: height / 2, class: 'chart-empty', 'text-anchor': 'middle' }, 'No checks yet'));
    return svg;
  }
  const split = checks.map(phasesOf);
  const top = niceCeiling(Math.max(...split.map((p) => PHASES.reduce((sum, k) => sum + p[k], 0))));
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;
  const pitch = plotWidth / Math.max(checks.length, 20);
  const bar = Math.max(1, pitch * 0.8);

  const grid = s('g', { class: 'chart-grid' });
  for (let i = 0; i <= 4; i++) {
    const value = (top / 4) * i;
    const lineY = y(value).toFixed(1);
    grid.append(s('line', { x1: margin.left, x2: width - margin.right, y1: lineY, y2: lineY }));
    grid.append(s('text', { x: margin.left - 6, y: lineY, dy: '0.32em', 'text-anchor': 'end' }, ms(value)));
  }
  svg.append(grid);

  const paths = Object.fromEntries(PHASES.map((k) => [k, '']));
  let failed = '';
  const tips = s('g', { class: 'chart-tips' });
  checks.forEach((check, index) => {
    const x = margin.left + index * pitch;
    let base = 0;
    const parts = split[index];
    for (const phase of PHASES) {
      const value = parts[phase];
      if (value <= 0) continue;
      const y1 = y(base + value);
      const y0 = y(base);
      paths[phase] += `M${x.toFixed(1)} ${y1.toFixed(1)}h${bar.toFixed(1)}V${y0.toFixed(1)}h${(-bar).toFixed(1)}z`;
      base += value;
    }
    const ok = check.status === 'UP';
    if (!ok) failed += `M${x.toFixed(1)} ${margin.top + plotHeight + 3}h${bar.toFixed(1)}v6h${(-bar).toFixed(1)}z`;
    const tip = s('rect', {
      x: x.toFixed(1),
      y: margin.top,
      width: Math.max(bar, 2).toFixed(1),
      height: plotHeight + 10,
      class: 'chart-hit',
    });
    const label =
      `${new Date(check.checkedAt).toLocaleString()} — ${check.status}` +
      (check.httpStatus ? ` (HTTP ${check.httpStatus})` : '') +
      `\nTotal ${ms(check.totalMs)}: DNS ${ms(parts.dns)}, connect ${ms(parts.connect)}, TLS ${ms(parts.tls)}, ` +
      `server ${ms(parts.ttfb)}, transfer ${ms(parts.transfer)}` +
      (check.errorCode ? `\n${check.errorCode}` : '');
    tip.append(s('title', {}, label));
    tips.append(tip);
  });
  for (const phase of PHASES) {
    if (paths[phase]) svg.append(s('path', { d: paths[phase], class: `phase phase-${phase}` }));
  }
  if (failed) svg.append(s('path', { d: failed, class: 'phase phase-failed' }));

  const axis = s('g', { class: 'chart-axis' });
  const baseY = margin.top + plotHeight;
  axis.append(s('line', { x1: margin.left, x2: width - margin.right, y1: baseY, y2: baseY }));
  const first = new Date(checks[0].checkedAt);
  const last = new Date(checks[checks.length - 1].checkedAt);
  const format = (date) => date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  axis.append(s('text', { x: margin.left, y: height - 6, 'text-anchor': 'start' }, format(first)));
  axis.append(s('text', { x: width - margin.right, y: height - 6, 'text-anchor': 'end' }, format(last)));
  svg.append(axis);
  svg.append(tips);
  return svg;
}
