// The chart: an SVG line chart drawn from the figures (no library), with a
// hover read-out, redrawn when its box changes width; every figure is also
// in the table beside it.

import { bucketLabel, bucketLongLabel } from './dates.js';
import { $, h, svg, fmt, nextId, loadingText } from './dom.js';
import { app } from './view.js';

// The chart's card: a legend, CSV links and the chart, and the same figures
// as a table for keyboards and screen readers.
export function chartCard(title) {
  const id = nextId('h');
  return h('section', { class: 'card chart-card', data: { panel: 'chart' }, 'aria-labelledby': id },
    h('div', { class: 'card-head' },
      h('h2', { id, class: 'card-title', tabindex: '-1' }, title),
      h('div', { class: 'legend', id: 'chart-legend' }),
      h('div', { class: 'card-actions', id: 'chart-actions' })),
    h('div', { class: 'chart', id: 'chart' }, loadingText()),
    h('details', { class: 'as-table' }, h('summary', null, 'Show as table'),
      h('div', { class: 'table-scroll', id: 'chart-table' })));
}

// Draws `points` (bucket, values by series key) in the chart card, fills its
// legend and table; `people` is what a withheld figure has too few of.
export function showSeries(points, series, interval, firstColumn, people) {
  people = people || 'visitors';
  const allWithheld = points.length > 0 && points.every((pt) => series.every((s) => pt.values[s.key] == null));
  const withheld = !allWithheld && points.some((pt) => series.some((s) => pt.values[s.key] == null));
  $('chart-legend').replaceChildren(...series.map((s) =>
    h('span', { class: 'legend-item' }, h('span', { class: 'swatch ' + s.cls, 'aria-hidden': 'true' }), s.name)),
  withheld ? h('span', { class: 'legend-item legend-gap' }, 'Gaps: withheld, too few ' + people + ' to show') : '');
  if (allWithheld) {
    app.charts = [];
    $('chart').replaceChildren(h('p', { class: 'placeholder' },
      'Every figure of this chart is withheld: too few ' + people + ' to show in each ' +
      (interval === 'day' ? 'day' : interval) + '.'));
  } else {
    drawChart($('chart'), points, series, interval);
  }
  const head = h('tr', null, h('th', { scope: 'col' }, firstColumn),
    series.map((s) => h('th', { scope: 'col', class: 'num' }, s.name)));
  const body = h('tbody', null, points.map((pt) => h('tr', null,
    h('th', { scope: 'row' }, bucketLongLabel(pt.bucket, interval)),
    series.map((s) => h('td', { class: 'num' }, fmt(pt.values[s.key]))))));
  $('chart-table').replaceChildren(h('table', { class: 'data' }, h('thead', null, head), body));
}

function niceStep(max, count) {
  const raw = Math.max(max / count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const scaled = raw / power;
  const nice = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 2.5 ? 2.5 : scaled <= 5 ? 5 : 10;
  return Math.max(1, Math.ceil(nice * power));
}

function drawChart(box, points, series, interval) {
  app.charts = app.charts.filter((c) => c.box !== box && c.box.isConnected);
  app.charts.push({ box, points, series, interval, width: 0 });
  paintChart(app.charts[app.charts.length - 1]);
}

function paintChart(chart) {
  const { box, points, series, interval } = chart;
  const width = Math.max(box.clientWidth || 0, 280);
  chart.width = width;
  const height = width < 500 ? 200 : 260;
  if (!points.length) {
    box.replaceChildren(h('p', { class: 'placeholder' }, 'No data for this period.'));
    return;
  }
  let max = 0;
  for (const pt of points) for (const s of series) max = Math.max(max, pt.values[s.key] || 0);
  const step = max > 0 ? niceStep(max, 4) : 1;
  const top = max > 0 ? step * Math.ceil(max / step) : 4;
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  const labelWidth = Math.max(...ticks.map((t) => fmt(t).length)) * 7 + 10;
  const m = { left: labelWidth, right: 14, top: 12, bottom: 28 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const n = points.length;
  const x = (i) => m.left + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const chartSvg = svg('svg', {
    class: 'chart-svg', width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img',
    'aria-label': series.map((s) => s.name).join(' and ') + ', ' + n + ' points from ' +
      bucketLongLabel(points[0].bucket, interval) + ' to ' + bucketLongLabel(points[n - 1].bucket, interval) +
      '. The same figures are in the table below.',
  });
  const grid = svg('g', { class: 'grid', 'aria-hidden': 'true' });
  for (const t of ticks) {
    grid.append(svg('line', { x1: m.left, x2: width - m.right, y1: y(t), y2: y(t) }),
      svg('text', { x: m.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  const labelsFit = Math.max(2, Math.floor(plotW / (interval === 'month' ? 80 : 64)));
  const every = Math.max(1, Math.ceil(n / labelsFit));
  const labelled = [];
  for (let i = 0; i < n; i += every) labelled.push(i);
  // The last bucket too, when it does not crowd the one before it.
  if (n > 1 && labelled[labelled.length - 1] !== n - 1 && n - 1 - labelled[labelled.length - 1] >= every * 0.75) {
    labelled.push(n - 1);
  }
  for (const i of labelled) {
    const anchor = n === 1 ? 'middle' : i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
    grid.append(svg('text', { x: x(i), y: height - 8, 'text-anchor': anchor, class: 'x-label' },
      bucketLabel(points[i].bucket, interval)));
  }
  chartSvg.append(grid);
  // The first series is drawn last, on top: where both are equal, it shows.
  series.slice().reverse().forEach((s) => {
    const index = series.indexOf(s);
    const segments = [];
    let current = [];
    points.forEach((pt, i) => {
      const v = pt.values[s.key];
      if (v == null) {
        if (current.length) segments.push(current);
        current = [];
      } else {
        current.push([x(i), y(v)]);
      }
    });
    if (current.length) segments.push(current);
    const g = svg('g', { class: 'series ' + s.cls, 'aria-hidden': 'true' });
    for (const seg of segments) {
      const line = seg.map((p, i) => (i ? 'L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1)).join('');
      if (index === 0 && seg.length > 1) {
        const base = y(0).toFixed(1);
        g.append(svg('path', {
          class: 'area',
          d: line + 'L' + seg[seg.length - 1][0].toFixed(1) + ' ' + base + 'L' + seg[0][0].toFixed(1) + ' ' + base + 'Z',
        }));
      }
      if (seg.length > 1) g.append(svg('path', { class: 'line', d: line }));
      else g.append(svg('circle', { class: 'dot', cx: seg[0][0], cy: seg[0][1], r: 3 }));
    }
    chartSvg.append(g);
  });
  // Hover read-out; the table holds the same figures for keyboards and screen readers.
  const guide = svg('line', { class: 'guide', y1: m.top, y2: m.top + plotH, x1: 0, x2: 0, visibility: 'hidden' });
  const dots = series.map((s) => svg('circle', { class: 'hover-dot ' + s.cls, r: 4, cx: 0, cy: 0, visibility: 'hidden' }));
  const hit = svg('rect', { class: 'hit', x: m.left, y: m.top, width: plotW, height: plotH });
  chartSvg.append(guide, ...dots, hit);
  const tip = h('div', { class: 'tip', hidden: true, 'aria-hidden': 'true' });
  const move = (event) => {
    const rect = chartSvg.getBoundingClientRect();
    const px = ((event.clientX - rect.left) * width) / rect.width;
    const i = n === 1 ? 0 : Math.max(0, Math.min(n - 1, Math.round(((px - m.left) * (n - 1)) / plotW)));
    const pt = points[i];
    guide.setAttribute('x1', x(i));
    guide.setAttribute('x2', x(i));
    guide.setAttribute('visibility', 'visible');
    series.forEach((s, k) => {
      const v = pt.values[s.key];
      dots[k].setAttribute('visibility', v == null ? 'hidden' : 'visible');
      if (v != null) {
        dots[k].setAttribute('cx', x(i));
        dots[k].setAttribute('cy', y(v));
      }
    });
    tip.replaceChildren(h('strong', null, bucketLongLabel(pt.bucket, interval)),
      ...series.map((s) => h('span', { class: 'tip-row' }, h('span', { class: 'swatch ' + s.cls }), s.name + ': ' +
        (pt.values[s.key] == null ? '— (withheld)' : fmt(pt.values[s.key])))));
    tip.hidden = false;
    // Beside the guide line, on the side with room, so it hides no point.
    const at = (x(i) / width) * rect.width;
    const tipWidth = tip.offsetWidth;
    const left = at + 12 + tipWidth <= rect.width ? at + 12 : Math.max(0, at - 12 - tipWidth);
    tip.style.left = left + 'px';
  };
  const leave = () => {
    tip.hidden = true;
    guide.setAttribute('visibility', 'hidden');
    for (const d of dots) d.setAttribute('visibility', 'hidden');
  };
  hit.addEventListener('pointermove', move);
  hit.addEventListener('pointerdown', move);
  hit.addEventListener('pointerleave', leave);
  box.replaceChildren(chartSvg, tip);
}

let resizeQueued = false;
// Repaints the charts whose box changed width.
export function onResize() {
  if (resizeQueued) return;
  resizeQueued = true;
  requestAnimationFrame(() => {
    resizeQueued = false;
    for (const chart of app.charts) {
      if (chart.box.isConnected && Math.abs(chart.box.clientWidth - chart.width) > 4) paintChart(chart);
    }
  });
}
