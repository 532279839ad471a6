// The overview of one site: its figures against the previous period, the
// chart of visitors and page views, the panels (panels.js), where the
// site defines them, its goals and funnels (conversions.js), and the hits
// it did not count (filtered.js).

import { statsUrl } from './api.js';
import { intervalFor, rangeLabel } from './dates.js';
import { $, h, fmt, signed, busy, card, csvLink, errorBox, fileSafe, roundingText, TOO_FEW_VISITORS } from './dom.js';
import { chartCard, showSeries } from './chart.js';
import { sitePanels, buildPanel, loadPanel } from './panels.js';
import { conversionCards, loadConversions } from './conversions.js';
import { filteredCard, loadFiltered } from './filtered.js';
import { app, siteById, sitePairs, track, setNotes } from './view.js';

// The summary's figures, as the summary report names them.
const SITE_FIGURES = [
  ['visitors', 'Visitors'], ['pageviews', 'Page views'], ['visits', 'Visits'],
  ['views_per_visit', 'Views per visit'], ['bounce_rate', 'Bounce rate'],
];

// The site's view: summary figures with their change, the chart of visitors
// and page views, the panels, the goals and the funnel, and filtered traffic.
export function renderOverview() {
  const nav = app.nav;
  $('view-title').textContent = nav.site || 'No site';
  const view = $('view');
  if (!nav.site) {
    view.dataset.kind = 'empty';
    view.replaceChildren(h('div', { class: 'card' }, h('p', null, 'This sign-in may read no site.')));
    return;
  }
  if (view.dataset.kind !== 'overview:' + nav.site) buildOverview(view);
  loadSummary();
  loadChart();
  for (const panel of sitePanels(siteById(nav.site))) loadPanel(panel);
  loadConversions();
  loadFiltered();
}

function buildOverview(view) {
  view.dataset.kind = 'overview:' + app.nav.site;
  const figures = h('dl', { class: 'figures' });
  for (const [key, label] of SITE_FIGURES) {
    figures.append(h('div', { class: 'figure' },
      h('dt', null, label),
      h('dd', { class: 'figure-value' }, h('span', { data: { figure: key } }, '…'),
        key === 'bounce_rate' ? h('span', { class: 'unit' }, '%') : null),
      h('dd', { class: 'figure-change', data: { change: key } }, '\u00a0')));
  }
  const summary = card('summary', 'Summary', figures, h('p', { class: 'caption', id: 'summary-caption' }),
    h('p', { class: 'caption', id: 'rounding' }), h('div', { class: 'panel-status', id: 'summary-status' }));
  summary.querySelector('h2').classList.add('sr-only');

  const chart = chartCard('Visitors and page views');
  const site = siteById(app.nav.site);
  const panels = h('div', { class: 'panels' }, sitePanels(site).map(buildPanel));
  view.replaceChildren(summary, chart, panels, ...conversionCards(site), filteredCard());
}

function loadSummary() {
  const panel = document.querySelector('[data-panel="summary"]');
  busy(panel, true);
  const status = $('summary-status');
  track('summary', 'summary', sitePairs(), (data) => {
    busy(panel, false);
    status.replaceChildren();
    setNotes('summary', data.notes);
    renderFigures(data);
  }, (e) => {
    busy(panel, false);
    for (const el of panel.querySelectorAll('[data-figure]')) el.textContent = '—';
    for (const el of panel.querySelectorAll('[data-change]')) el.textContent = '\u00a0';
    status.replaceChildren(errorBox(e.message, loadSummary));
  });
}

function renderFigures(data) {
  const panel = document.querySelector('[data-panel="summary"]');
  const current = data.current;
  const change = data.change;
  for (const [key] of SITE_FIGURES) {
    const value = panel.querySelector('[data-figure="' + key + '"]');
    const changeEl = panel.querySelector('[data-change="' + key + '"]');
    changeEl.className = 'figure-change';
    if (!current) {
      value.textContent = '—';
      value.parentElement.classList.add('withheld');
      changeEl.textContent = TOO_FEW_VISITORS;
      changeEl.classList.add('withheld-note');
      continue;
    }
    value.parentElement.classList.remove('withheld');
    value.textContent = fmt(current[key]);
    const exact = change ? (key === 'bounce_rate' ? change.bounce_rate_points : change[key]) : null;
    // Judged as shown (one decimal): a change that reads 0 is no change.
    const delta = exact == null ? null : Math.round(exact * 10) / 10 || 0;
    changeEl.replaceChildren();
    if (delta == null) {
      changeEl.textContent = 'no comparison';
      continue;
    }
    const good = key === 'bounce_rate' ? delta < 0 : delta > 0;
    changeEl.classList.add(delta === 0 ? 'flat' : good ? 'good' : 'bad');
    const arrow = delta > 0 ? '↑ ' : delta < 0 ? '↓ ' : '';
    const text = key === 'bounce_rate'
      ? signed(delta, 1) + (Math.abs(delta) === 1 ? ' point' : ' points')
      : signed(delta, 1) + '%';
    changeEl.append(h('span', { class: 'delta' }, h('span', { 'aria-hidden': 'true' }, arrow), text),
      ' vs previous period');
  }
  const prev = data.previous_period;
  let caption = '';
  if (prev && current) {
    const dates = '(' + rangeLabel(prev.from, prev.to) + ')';
    if (!data.previous) caption = 'No comparison: the previous period ' + dates + ' is withheld: ' + TOO_FEW_VISITORS + '.';
    else if (!change || SITE_FIGURES.some(([key]) => (key === 'bounce_rate' ? change.bounce_rate_points : change[key]) == null)) {
      caption = 'Changes compare with the previous period ' + dates + '; where it had none, there is no change to show.';
    } else caption = 'Changes compare with the previous period ' + dates + '.';
  }
  // What "visitors" means, where the figure is shown: ids change daily.
  const daily = 'A visitor counts once per day: someone who comes back on another day counts again.';
  $('summary-caption').textContent = caption ? caption + ' ' + daily : daily;
  $('rounding').textContent = roundingText(data.margins);
}

function loadChart() {
  const p = app.period;
  const interval = intervalFor(p.from, p.to);
  const panel = document.querySelector('[data-panel="chart"]');
  busy(panel, true);
  const csvPairs = sitePairs([['interval', interval], ['format', 'csv']]);
  $('chart-actions').replaceChildren(csvLink(statsUrl('timeseries', csvPairs),
    fileSafe(app.nav.site + '-visitors-' + p.from + '-' + p.to) + '.csv'));
  track('chart', 'timeseries', sitePairs([['interval', interval]]), (data) => {
    busy(panel, false);
    setNotes('chart', data.notes);
    const series = [
      { key: 'visitors', name: 'Visitors', cls: 's1' },
      { key: 'pageviews', name: 'Page views', cls: 's2' },
    ];
    const points = data.points.map((pt) => ({ bucket: pt.bucket, values: { visitors: pt.visitors, pageviews: pt.pageviews } }));
    showSeries(points, series, data.interval || interval, 'Time');
  }, (e) => {
    busy(panel, false);
    $('chart').replaceChildren(errorBox(e.message, loadChart));
    $('chart-table').replaceChildren();
    $('chart-legend').replaceChildren();
  });
}
