/**
 * Charts drawn as SVG from data, no library: the hourly recovery chart and horizontal
 * stacked bars. Each chart is an image with a text summary for screen readers, and the
 * numbers behind it are one click away in a table.
 */
import { h, s, uid } from './dom.js';
import { formatPercent } from './format.js';

/** A whole-number step of 1, 2 or 5 × 10^k, so that `intervals` steps cover n. */
const niceStep = (n, intervals) => {
  const raw = Math.max(1, n / intervals);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= raw) ?? raw;
};

const hourDate = (hour) => new Date(`${hour}:00:00Z`);
const hourLabel = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

function dataTable(caption, head, rows) {
  return h('details', { class: 'chart-data' }, h('summary', null, 'Show the numbers'),
    h('table', { class: 'data' }, h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: 'num' }, c))))))));
}

function legend(items) {
  return h('ul', { class: 'legend' }, items.map(([cls, label]) => h('li', null, h('span', { class: ['swatch', cls], 'aria-hidden': 'true' }), label)));
}

/** Per hour: recovered and failed recoveries as stacked bars, the recovery rate as a line (right axis). */
export function hourlyRecoveryChart(series, width, summaryText) {
  const W = Math.max(480, Math.round(width || 960));
  const H = 240;
  const m = { l: 44, r: 48, t: 12, b: 36 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const n = Math.max(1, series.length);
  const step = niceStep(Math.max(1, ...series.map((p) => Math.max(p.errors, p.recovered + p.failed))), 4);
  const maxCount = step * 4;
  const bw = iw / n;
  const x = (i) => m.l + i * bw;
  const y = (v) => m.t + ih - (v / maxCount) * ih;
  const yr = (r) => m.t + ih - r * ih;
  const titleId = uid('chart-title');
  const nodes = [];
  for (let k = 0; k <= 4; k++) {
    const v = step * k;
    nodes.push(s('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: 'grid' }));
    nodes.push(s('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
    nodes.push(s('text', { x: W - m.r + 6, y: yr(k / 4) + 4, class: 'axis' }, `${k * 25}%`));
  }
  const every = Math.max(1, Math.ceil(n / Math.max(4, Math.floor(iw / 80))));
  series.forEach((p, i) => {
    const d = hourDate(p.hour);
    const gap = Math.min(6, bw * 0.2);
    const rec = s('rect', { x: x(i) + gap / 2, y: y(p.recovered), width: Math.max(1, bw - gap), height: ih - (y(p.recovered) - m.t), class: 'bar-recovered' });
    const fail = s('rect', { x: x(i) + gap / 2, y: y(p.recovered + p.failed), width: Math.max(1, bw - gap), height: y(p.recovered) - y(p.recovered + p.failed), class: 'bar-failed' });
    nodes.push(s('g', null, rec, fail, s('title', null, `${hourLabel.format(d)}: ${p.errors} errors, ${p.recovered} recovered, ${p.failed} failed`)));
    if (i % every === 0) {
      nodes.push(s('text', { x: x(i) + bw / 2, y: H - m.b + 16, 'text-anchor': 'middle', class: 'axis' }, hourLabel.format(d)));
      if (i === 0 || d.getHours() < every) nodes.push(s('text', { x: x(i) + bw / 2, y: H - m.b + 30, 'text-anchor': 'middle', class: 'axis faint' }, dayLabel.format(d)));
    }
  });
  const pts = series.map((p, i) => (p.recovered + p.failed > 0 ? [x(i) + bw / 2, yr(p.recovered / (p.recovered + p.failed))] : null));
  let dPath = '';
  let pen = false;
  for (const pt of pts) {
    if (!pt) { pen = false; continue; }
    dPath += `${pen ? 'L' : 'M'}${pt[0].toFixed(1)},${pt[1].toFixed(1)}`;
    pen = true;
  }
  if (dPath) nodes.push(s('path', { d: dPath, class: 'rate-line' }));
  for (const pt of pts) if (pt) nodes.push(s('circle', { cx: pt[0], cy: pt[1], r: 3.5, class: 'rate-dot' }));
  nodes.push(s('line', { x1: m.l, x2: W - m.r, y1: m.t + ih, y2: m.t + ih, class: 'axis-line' }));

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': titleId },
    s('title', { id: titleId }, summaryText), ...nodes);
  return h('figure', { class: 'chart-fig' }, svg,
    legend([['sw-recovered', 'recovered'], ['sw-failed', 'failed'], ['sw-rate', 'recovery rate (right axis)']]),
    dataTable('Recoveries per hour', ['Hour', 'Errors', 'Recovered', 'Failed', 'Rate'],
      series.filter((p) => p.errors + p.recovered + p.failed > 0).map((p) => [
        `${dayLabel.format(hourDate(p.hour))} ${hourLabel.format(hourDate(p.hour))}`, String(p.errors), String(p.recovered), String(p.failed),
        p.recovered + p.failed > 0 ? formatPercent(p.recovered / (p.recovered + p.failed)) : '—'])));
}

/** One row per name: recovered, failed and still open errors as a stacked horizontal bar. */
export function stackedBars(rows, { width, nameHeader, summaryText, describe }) {
  if (rows.length === 0) return h('p', { class: 'muted' }, 'No errors in this window.');
  const W = Math.max(360, Math.round(width || 960));
  const rowH = 30;
  const labelW = Math.min(260, Math.round(W * 0.42));
  const valueW = 90;
  const H = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => r.errors));
  const bx = (v) => (v / max) * (W - labelW - valueW);
  const titleId = uid('chart-title');
  const nodes = rows.flatMap((r, i) => {
    const yy = 4 + i * rowH;
    const open = Math.max(0, r.errors - r.recovered - r.failed);
    let acc = labelW;
    const segs = [['bar-recovered', r.recovered], ['bar-failed', r.failed], ['bar-open', open]].map(([cls, v]) => {
      const w = bx(v);
      const rect = s('rect', { x: acc, y: yy + 5, width: Math.max(0, w), height: rowH - 10, class: cls });
      acc += w;
      return rect;
    });
    return [s('g', null,
      s('text', { x: labelW - 10, y: yy + rowH / 2 + 4, 'text-anchor': 'end', class: 'bar-label' }, r.name),
      ...segs,
      s('text', { x: acc + 8, y: yy + rowH / 2 + 4, class: 'bar-value' }, `${r.errors}${r.recovered + r.failed > 0 ? ` · ${formatPercent(r.recovered / (r.recovered + r.failed))}` : ''}`),
      s('title', null, `${r.name}: ${r.errors} errors, ${r.recovered} recovered, ${r.failed} failed${describe ? ` — ${describe(r)}` : ''}`))];
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart bars', role: 'img', 'aria-labelledby': titleId },
    s('title', { id: titleId }, summaryText), ...nodes);
  return h('figure', { class: 'chart-fig' }, svg,
    legend([['sw-recovered', 'recovered'], ['sw-failed', 'failed'], ['sw-open', 'not resolved yet']]),
    dataTable(summaryText, [nameHeader, 'Errors', 'Recovered', 'Failed', 'Rate'],
      rows.map((r) => [r.name, String(r.errors), String(r.recovered), String(r.failed), r.recovered + r.failed > 0 ? formatPercent(r.recovered / (r.recovered + r.failed)) : '—'])));
}
