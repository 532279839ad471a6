// Email campaigns: the list of those the reader may read, and one
// campaign's opens (proxied and direct), by day, mail client and country.

import { statsUrl } from './api.js';
import { $, h, fmt, attributionLine, busy, card, csvLink, errorBox, fileSafe, loadingText, groupRows, nothingToShow, roundingText, OTHER_TEXT, TOO_FEW_RECIPIENTS } from './dom.js';
import { chartCard, showSeries } from './chart.js';
import { app, urlFor, followLink, periodPairs, track, setNotes, everyRow, redraw } from './view.js';

const PROXIED_TEXT = "Proxied opens were fetched by a mail provider (Gmail's image proxy, Apple Mail Privacy Protection): they show delivery, not that a person read the email.";

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
  if (!list.length) return h('p', { class: 'placeholder' }, 'No campaign was opened in this period.');
  const body = h('tbody');
  for (const c of list) {
    const href = urlFor(Object.assign({}, app.nav, { view: 'campaign', campaign: c.campaign }));
    body.append(h('tr', { data: { row: '', value: c.campaign } },
      h('th', { scope: 'row' }, h('a', {
        href, onclick: (event) => followLink(event, { view: 'campaign', campaign: c.campaign }),
      }, c.campaign)),
      withheldCell(c.opens, 'count'),
      withheldCell(c.unique_opens, 'unique')));
  }
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Campaign'),
      h('th', { scope: 'col', class: 'num' }, 'Opens'), h('th', { scope: 'col', class: 'num' }, 'Unique opens'))),
    body));
}

// The email report's figures, as it names them.
const EMAIL_FIGURES = [
  ['opens', 'Opens'], ['unique_opens', 'Unique opens'], ['proxied_opens', 'Proxied opens'],
  ['direct_opens', 'Direct opens'], ['unique_direct_opens', 'Unique direct opens'],
];

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
  const figures = h('dl', { class: 'figures' });
  for (const [key, label] of EMAIL_FIGURES) {
    figures.append(h('div', { class: 'figure' }, h('dt', null, label),
      h('dd', { class: 'figure-value' }, h('span', { data: { figure: key } }, '…')),
      h('dd', { class: 'figure-change', data: { change: key } }, '\u00a0')));
  }
  const csvHref = statsUrl('email', [['campaign', nav.campaign]].concat(periodPairs(), [everyRow(), ['format', 'csv']]));
  const csvName = fileSafe(nav.campaign + '-' + p.from + '-' + p.to) + '.csv';
  const summary = h('section', { class: 'card', 'aria-label': 'Opens' }, figures,
    h('p', { class: 'explain' }, PROXIED_TEXT), h('p', { class: 'caption', id: 'rounding' }),
    h('div', { class: 'panel-status', id: 'campaign-status' }));
  const chart = chartCard('Opens by day');
  const clients = h('div', { class: 'panel-body' }, loadingText());
  const countries = h('div', { class: 'panel-body' }, loadingText());
  const groups = h('div', { class: 'panels' },
    card('clients', 'Mail clients', clients, h('div', { class: 'panel-foot' }, csvLink(csvHref, csvName, 'Download CSV (whole report)'))),
    card('countries', 'Countries', countries, h('div', { class: 'panel-foot' }, csvLink(csvHref, csvName, 'Download CSV (whole report)')),
      attributionLine(app.me.locations_attribution)));
  const wrapper = h('div', { data: { panel: 'campaign' } }, back, summary, chart, groups);
  view.replaceChildren(wrapper);
  $('chart-actions').replaceChildren(csvLink(csvHref, csvName, 'Download CSV'));
  busy(wrapper, true);
  track('campaign', 'email', [['campaign', nav.campaign]].concat(periodPairs(), [['limit', '10']]), (data) => {
    busy(wrapper, false);
    setNotes('campaign', data.notes);
    for (const [key] of EMAIL_FIGURES) {
      const value = data[key];
      figures.querySelector('[data-figure="' + key + '"]').textContent = fmt(value);
      const note = figures.querySelector('[data-change="' + key + '"]');
      note.textContent = value == null ? TOO_FEW_RECIPIENTS : '\u00a0';
      note.classList.toggle('withheld-note', value == null);
    }
    $('rounding').textContent = roundingText(data.margins, 'recipients', 'opens');
    const series = [
      { key: 'unique', name: 'Unique opens', cls: 's1' },
      { key: 'count', name: 'Opens', cls: 's2' },
    ];
    const points = (data.by_day || []).map((row) => ({ bucket: row.value, values: { unique: row.unique, count: row.count } }));
    showSeries(points, series, 'day', 'Day', 'recipients');
    clients.replaceChildren(...[].concat(emailRows(data.by_client, 'Mail client', 'client')));
    countries.replaceChildren(...[].concat(emailRows(data.by_country, 'Country', 'country')));
  }, (e) => {
    busy(wrapper, false);
    for (const el of figures.querySelectorAll('[data-figure]')) el.textContent = '—';
    $('campaign-status').replaceChildren(errorBox(e.message, redraw));
    $('chart').replaceChildren();
    clients.replaceChildren();
    countries.replaceChildren();
  });
}

function emailRows(rows, label, dim) {
  if (!rows || nothingToShow(rows)) return h('p', { class: 'placeholder' }, 'No opens in this period.');
  const { body, folded } = groupRows(dim, rows);
  const parts = [h('div', { class: 'table-scroll' }, h('table', { class: 'data rows' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, label), h('th', { scope: 'col', class: 'num' }, 'Recipients'),
      h('th', { scope: 'col', class: 'num' }, 'Opens'), h('th', { scope: 'col', class: 'num share-col' }, 'Share'))),
    body))];
  if (folded) parts.push(h('p', { class: 'fineprint' }, OTHER_TEXT));
  return parts;
}
