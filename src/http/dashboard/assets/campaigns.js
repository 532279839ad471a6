// Email campaigns: the list of those the reader may read, and one
// campaign's opens (proxied and direct), by day, mail client and country,
// and its clicks: people's, by link, and a mail scanner's apart, by the
// signal that showed it.

import { statsUrl } from './api.js';
import { $, h, fmt, attributionLine, busy, card, csvLink, errorBox, fileSafe, loadingText, groupRows, nothingToShow, roundingText, OTHER_TEXT, TOO_FEW_RECIPIENTS } from './dom.js';
import { chartCard, showSeries } from './chart.js';
import { app, urlFor, followLink, periodPairs, track, setNotes, everyRow, redraw } from './view.js';

const PROXIED_TEXT = "Proxied opens were fetched by a mail provider (Gmail's image proxy, Apple Mail Privacy Protection): they show delivery, not that a person read the email.";
const SCANNER_TEXT = "Clicks are people's. A mail scanner's (security gateways such as Microsoft Defender, Mimecast or Proofpoint open a message's links before its reader does) are counted apart, by what showed it. The click-to-open rate is the recipients who clicked over those who opened directly; a reader whose mail client blocks images clicks without an open, so it may pass 100%.";

// What each scanner signal means, as the page says it (README, "Email links").
const SIGNAL_TEXT = {
  honeypot: 'Clicked the hidden honeypot link',
  network: 'From a mail scanner\'s network',
  prefetch: 'A prefetch, not a visit',
  agent: 'Not a browser',
  old_browser: 'A browser years out of use',
  near_honeypot: 'Within seconds of the honeypot',
  burst: '3 links within 2 seconds',
  early: '2 links in the first seconds, before any open',
};

// The campaigns the reader may read, with their opens in the period.
export function renderCampaigns() {
  $('view-title').textContent = 'Email campaigns';
  const view = $('view');
  view.dataset.kind = 'campaigns';
  const p = app.period;
  const body = h('div', { class: 'panel-body', id: 'campaigns-body' }, loadingText());
  const section = card('campaigns', 'Campaigns', body,
    h('div', { class: 'panel-foot' }, csvLink(statsUrl('campaigns', periodPairs().concat([['format', 'csv']])),
      'campaigns-' + p.from + '-' + p.to + '.csv')));
  busy(section, true);
  view.replaceChildren(section);
  track('campaigns', 'campaigns', periodPairs(), (data) => {
    busy(section, false);
    setNotes('campaigns', data.notes);
    body.replaceChildren(campaignsTable(data));
  }, (e) => {
    busy(section, false);
    body.replaceChildren(errorBox(e.message, redraw));
  });
}

function withheldCell(value, key) {
  if (value != null) return h('td', { class: 'num' }, h('span', { data: { cell: key } }, fmt(value)));
  return h('td', { class: 'num withheld' }, h('span', { data: { cell: key } }, '—'),
    h('span', { class: 'withheld-note' }, ' ' + TOO_FEW_RECIPIENTS));
}

function campaignsTable(data) {
  const list = data.campaigns || [];
  if (!list.length) return h('p', { class: 'placeholder' }, 'No campaign was opened or clicked in this period.');
  const body = h('tbody');
  for (const c of list) {
    const href = urlFor(Object.assign({}, app.nav, { view: 'campaign', campaign: c.campaign }));
    body.append(h('tr', { data: { row: '', value: c.campaign } },
      h('th', { scope: 'row' }, h('a', {
        href, onclick: (event) => followLink(event, { view: 'campaign', campaign: c.campaign }),
      }, c.campaign)),
      withheldCell(c.opens, 'count'),
      withheldCell(c.unique_opens, 'unique'),
      withheldCell(c.clicks, 'clicks'),
      withheldCell(c.unique_clicks, 'unique_clicks')));
  }
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Campaign'),
      h('th', { scope: 'col', class: 'num' }, 'Opens'), h('th', { scope: 'col', class: 'num' }, 'Unique opens'),
      h('th', { scope: 'col', class: 'num' }, 'Clicks'), h('th', { scope: 'col', class: 'num' }, 'Unique clicks'))),
    body));
}

// The email report's figures, as it names them.
const EMAIL_FIGURES = [
  ['opens', 'Opens'], ['unique_opens', 'Unique opens'], ['proxied_opens', 'Proxied opens'],
  ['direct_opens', 'Direct opens'], ['unique_direct_opens', 'Unique direct opens'],
];
const CLICK_FIGURES = [
  ['clicks', 'Clicks'], ['unique_clicks', 'Unique clicks'], ['click_to_open_rate', 'Click-to-open rate'],
  ['scanner_clicks', 'Scanner clicks'], ['unique_scanner_clicks', 'Recipients with scanner clicks'],
];

// A card of figures: each a label, its value (`data-figure`) and a line
// for what is withheld (`data-change`).
function figureList(list) {
  const figures = h('dl', { class: 'figures' });
  for (const [key, label] of list) {
    figures.append(h('div', { class: 'figure' }, h('dt', null, label),
      h('dd', { class: 'figure-value' }, h('span', { data: { figure: key } }, '…'),
        key === 'click_to_open_rate' ? h('span', { class: 'unit' }, '%') : null),
      h('dd', { class: 'figure-change', data: { change: key } }, '\u00a0')));
  }
  return figures;
}

function showFigures(figures, list, data) {
  for (const [key] of list) {
    const value = data[key];
    const shown = figures.querySelector('[data-figure="' + key + '"]');
    shown.textContent = fmt(value);
    shown.parentElement.classList.toggle('withheld', value == null);
    const note = figures.querySelector('[data-change="' + key + '"]');
    note.textContent = value == null ? TOO_FEW_RECIPIENTS : '\u00a0';
    note.classList.toggle('withheld-note', value == null);
  }
}

// One campaign: its figures, opens by day, by mail client and by country.
export function renderCampaign() {
  const nav = app.nav;
  $('view-title').textContent = nav.campaign;
  const view = $('view');
  view.dataset.kind = 'campaign';
  const p = app.period;
  const back = h('p', { class: 'back' }, h('a', {
    href: urlFor(Object.assign({}, nav, { view: 'campaigns', campaign: null })),
    onclick: (event) => followLink(event, { view: 'campaigns', campaign: null }),
  }, '← All campaigns'));
  const figures = figureList(EMAIL_FIGURES);
  const clickFigures = figureList(CLICK_FIGURES);
  const csvHref = statsUrl('email', [['campaign', nav.campaign]].concat(periodPairs(), [everyRow(), ['format', 'csv']]));
  const csvName = fileSafe(nav.campaign + '-' + p.from + '-' + p.to) + '.csv';
  const summary = h('section', { class: 'card', 'aria-label': 'Opens' }, figures,
    h('p', { class: 'explain' }, PROXIED_TEXT), h('p', { class: 'caption', id: 'rounding' }),
    h('div', { class: 'panel-status', id: 'campaign-status' }));
  const clickSummary = h('section', { class: 'card', 'aria-label': 'Clicks', data: { panel: 'clicks' } }, clickFigures,
    h('p', { class: 'explain' }, SCANNER_TEXT));
  const chart = chartCard('Opens by day');
  const clients = h('div', { class: 'panel-body' }, loadingText());
  const countries = h('div', { class: 'panel-body' }, loadingText());
  const links = h('div', { class: 'panel-body' }, loadingText());
  const signals = h('div', { class: 'panel-body' }, loadingText());
  const foot = () => h('div', { class: 'panel-foot' }, csvLink(csvHref, csvName, 'Download CSV (whole report)'));
  const groups = h('div', { class: 'panels' },
    card('clients', 'Mail clients', clients, foot()),
    card('countries', 'Countries', countries, foot(), attributionLine(app.me.locations_attribution)),
    card('links', 'Links clicked', links, foot()),
    card('signals', 'Scanner clicks, by what showed them', signals, foot()));
  const wrapper = h('div', { data: { panel: 'campaign' } }, back, summary, clickSummary, chart, groups);
  view.replaceChildren(wrapper);
  $('chart-actions').replaceChildren(csvLink(csvHref, csvName, 'Download CSV'));
  busy(wrapper, true);
  track('campaign', 'email', [['campaign', nav.campaign]].concat(periodPairs(), [['limit', '10']]), (data) => {
    busy(wrapper, false);
    setNotes('campaign', data.notes);
    showFigures(figures, EMAIL_FIGURES, data);
    showFigures(clickFigures, CLICK_FIGURES, data);
    $('rounding').textContent = roundingText(data.margins, 'recipients', 'opens');
    const series = [
      { key: 'unique', name: 'Unique opens', cls: 's1' },
      { key: 'count', name: 'Opens', cls: 's2' },
    ];
    const points = (data.by_day || []).map((row) => ({ bucket: row.value, values: { unique: row.unique, count: row.count } }));
    showSeries(points, series, 'day', 'Day', 'recipients');
    clients.replaceChildren(...[].concat(emailRows(data.by_client, 'Mail client', 'client')));
    countries.replaceChildren(...[].concat(emailRows(data.by_country, 'Country', 'country')));
    links.replaceChildren(...[].concat(emailRows(data.by_link, 'Link', 'link', 'Clicks')));
    signals.replaceChildren(...[].concat(emailRows(data.by_signal, 'Signal', 'signal', 'Clicks',
      (row) => h('span', { class: 'value', title: row.value }, SIGNAL_TEXT[row.value] || row.value))));
  }, (e) => {
    busy(wrapper, false);
    for (const el of wrapper.querySelectorAll('[data-figure]')) el.textContent = '—';
    $('campaign-status').replaceChildren(errorBox(e.message, redraw));
    $('chart').replaceChildren();
    for (const body of [clients, countries, links, signals]) body.replaceChildren();
  });
}

// A group's rows: its `label` column, recipients, `count` (opens or
// clicks) and share; `pick` makes a row's label (`dom.groupRows`).
function emailRows(rows, label, dim, count, pick) {
  const counted = count || 'Opens';
  if (!rows || nothingToShow(rows)) return h('p', { class: 'placeholder' }, 'No ' + counted.toLowerCase() + ' in this period.');
  const { body, folded } = groupRows(dim, rows, pick);
  const parts = [h('div', { class: 'table-scroll' }, h('table', { class: 'data rows' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, label), h('th', { scope: 'col', class: 'num' }, 'Recipients'),
      h('th', { scope: 'col', class: 'num' }, counted), h('th', { scope: 'col', class: 'num share-col' }, 'Share'))),
    body))];
  if (folded) parts.push(h('p', { class: 'fineprint' }, OTHER_TEXT));
  return parts;
}
