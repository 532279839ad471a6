// The overview's panels: a table of the top rows per tab (a dimension), a
// "See all" dialog and CSV links; a click on a row adds it as a filter,
// shown as a chip until removed. The dimensions a filter may test and how
// many filters combine are the server's (app.me.limits); the properties
// panel offers the site's own property keys (app.me.sites). The locations
// panel credits the GeoIP database as its licence asks (app.me).

import { statsUrl } from './api.js';
import { PERIODS, rangeLabel } from './dates.js';
import { $, h, fmt, announce, attributionLine, busy, csvLink, errorBox, fileSafe, loadingText, nextId, groupRows, nothingToShow, OTHER_TEXT, TOO_FEW_VISITORS } from './dom.js';
import { app, go, parseFilter, sitePairs, track, setNotes, everyRow } from './view.js';

// What each dimension is called on screen.
const DIM_LABEL = {
  path: 'Page', entry_page: 'Entry page', referrer_host: 'Referrer', utm_source: 'UTM source',
  utm_medium: 'UTM medium', utm_campaign: 'UTM campaign', country: 'Country', region: 'Region',
  city: 'City', browser: 'Browser', os: 'Operating system', device: 'Device', name: 'Event',
};

const PROP = 'prop:';
const isProp = (dim) => dim.indexOf(PROP) === 0;
// A property's dimension is called by its key.
const dimLabel = (dim) => (isProp(dim) ? dim.slice(PROP.length) : DIM_LABEL[dim]);

// The overview's panels and their tabs, each tab a dimension; `credit`:
// the panel shows locations, so it carries the GeoIP database's credit.
export const PANELS = [
  { id: 'pages', title: 'Pages', tabs: [['path', 'Top pages'], ['entry_page', 'Entry pages']] },
  { id: 'sources', title: 'Sources', tabs: [['referrer_host', 'Referrers'], ['utm_source', 'Source'], ['utm_medium', 'Medium'], ['utm_campaign', 'Campaign']] },
  { id: 'locations', title: 'Locations', tabs: [['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities']], credit: true },
  { id: 'devices', title: 'Devices', tabs: [['browser', 'Browsers'], ['os', 'OS'], ['device', 'Devices']] },
  { id: 'events', title: 'Custom events', tabs: [['name', 'Events']] },
];

// The panels of `site`: the above, and its event properties when it keeps
// any, one chosen at a time (`select`: a list, not tabs).
export function sitePanels(site) {
  if (!site || !site.props.length) return PANELS;
  return PANELS.concat([{
    id: 'props', title: 'Properties', select: 'Property',
    tabs: site.props.map((key) => [PROP + key, key]),
  }]);
}

// Where a filter on a row moves its panel's tab.
const DRILL = { country: 'region', region: 'city' };
const COUNT_WORD = { pageviews: 'Pageviews', visits: 'Visits', events: 'Events' };
const OPS = { '==': 'is', '!=': 'is not', '~': 'contains' };

export function filterLabel(f) {
  const value = f.value === '' ? '(none)' : f.value;
  if (f.dim === 'goal') return 'reached goal ' + value;
  return (isProp(f.dim) ? 'property ' + dimLabel(f.dim) : DIM_LABEL[f.dim].toLowerCase()) + ' ' + OPS[f.op] + ' ' + value;
}

// The filters of the view as chips, each with its remove button.
export function renderChips() {
  const nav = app.nav;
  const box = $('filters');
  const list = $('chips');
  const shown = nav.view === 'overview' && nav.filters.length > 0;
  box.hidden = !shown;
  list.replaceChildren();
  if (!shown) {
    $('filters-note').textContent = '';
    return;
  }
  for (const text of nav.filters) {
    const f = parseFilter(text);
    const label = filterLabel(f);
    list.append(h('li', { class: 'chip', data: { filter: text } },
      h('span', { class: 'chip-text' }, label),
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': 'Remove filter: ' + label,
        title: 'Remove filter', onclick: () => removeFilter(text),
      }, '×')));
  }
  if (nav.filters.length > 1) {
    list.append(h('li', null, h('button', {
      type: 'button', class: 'btn btn-link', onclick: () => {
        go({ filters: [] });
        announce('All filters removed.');
      },
    }, 'Clear all')));
  }
}

// Adds a filter from a row's click, at most as many as the server combines;
// `nextTab` drills the panel down (country to region to city).
export function addFilter(text, panelId, nextTab) {
  const note = $('filters-note');
  const nav = app.nav;
  $('filters').hidden = false;
  if (nav.filters.indexOf(text) >= 0) {
    note.textContent = 'That filter is already set.';
    announce(note.textContent);
    return false;
  }
  const max = app.me.limits.max_filters;
  if (nav.filters.length >= max) {
    note.textContent = 'At most ' + max + ' filters can be combined: remove one to add another.';
    announce(note.textContent);
    renderChips();
    $('filters').hidden = false;
    return false;
  }
  note.textContent = '';
  if (panelId && nextTab) app.tabs[panelId] = nextTab;
  go({ filters: nav.filters.concat([text]) }, { focusPanel: panelId });
  announce('Filter added: ' + filterLabel(parseFilter(text)) + '.');
  return true;
}

function removeFilter(text) {
  $('filters-note').textContent = '';
  const filters = app.nav.filters.filter((f) => f !== text);
  go({ filters }, { focusChips: true });
  announce('Filter removed: ' + filterLabel(parseFilter(text)) + '.');
}

export function buildPanel(panel) {
  const titleId = nextId('h');
  const head = h('div', { class: 'card-head' }, h('h2', { id: titleId, class: 'card-title', tabindex: '-1' }, panel.title));
  if (panel.select) {
    head.append(h('div', { class: 'control' },
      h('label', { for: panel.id + '-select' }, panel.select),
      h('select', { id: panel.id + '-select', onchange: (event) => selectTab(panel, event.target.value, false) },
        panel.tabs.map(([dim, label]) => h('option', { value: dim }, label)))));
  } else if (panel.tabs.length > 1) {
    const list = h('div', { class: 'tabs', role: 'tablist', 'aria-labelledby': titleId });
    panel.tabs.forEach(([dim, label]) => {
      list.append(h('button', {
        type: 'button', role: 'tab', class: 'tab', id: panel.id + '-tab-' + dim, data: { tab: dim },
        'aria-controls': panel.id + '-body', onclick: () => selectTab(panel, dim, false),
      }, label));
    });
    list.addEventListener('keydown', (event) => tabKeys(event, panel));
    head.append(list);
  }
  const tabbed = panel.tabs.length > 1 && !panel.select;
  const body = h('div', { class: 'panel-body', id: panel.id + '-body', role: tabbed ? 'tabpanel' : null }, loadingText());
  const foot = h('div', { class: 'panel-foot' },
    h('button', { type: 'button', class: 'btn btn-small', data: { seeAll: panel.id }, onclick: () => openAll(panel) }, 'See all'),
    h('span', { class: 'panel-csv', id: panel.id + '-csv' }));
  return h('section', { class: 'card panel', data: { panel: panel.id }, 'aria-labelledby': titleId }, head, body, foot,
    panel.credit ? attributionLine(app.me.locations_attribution) : null);
}

function syncTabs(panel) {
  const el = document.querySelector('[data-panel="' + panel.id + '"]');
  const selected = app.tabs[panel.id];
  if (panel.select) {
    $(panel.id + '-select').value = selected;
    return;
  }
  for (const tab of el.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.tab === selected;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
  }
  const body = $(panel.id + '-body');
  if (panel.tabs.length > 1) body.setAttribute('aria-labelledby', panel.id + '-tab-' + selected);
}

function tabKeys(event, panel) {
  const dims = panel.tabs.map((t) => t[0]);
  let i = dims.indexOf(app.tabs[panel.id]);
  if (event.key === 'ArrowRight') i = (i + 1) % dims.length;
  else if (event.key === 'ArrowLeft') i = (i - 1 + dims.length) % dims.length;
  else if (event.key === 'Home') i = 0;
  else if (event.key === 'End') i = dims.length - 1;
  else return;
  event.preventDefault();
  selectTab(panel, dims[i], true);
}

function selectTab(panel, dim, focus) {
  if (app.tabs[panel.id] !== dim) {
    app.tabs[panel.id] = dim;
    loadPanel(panel);
  }
  if (focus) $(panel.id + '-tab-' + dim).focus();
}

export function loadPanel(panel) {
  const el = document.querySelector('[data-panel="' + panel.id + '"]');
  // Another site's property keys are not this one's.
  if (!panel.tabs.some((t) => t[0] === app.tabs[panel.id])) app.tabs[panel.id] = panel.tabs[0][0];
  const dim = app.tabs[panel.id];
  syncTabs(panel);
  busy(el, true);
  $(panel.id + '-csv').replaceChildren(breakdownCsv(dim));
  track('panel:' + panel.id, 'breakdown', sitePairs([['by', dim], ['limit', '10']]), (data) => {
    busy(el, false);
    setNotes('panel:' + panel.id, data.notes);
    $(panel.id + '-body').replaceChildren(...[].concat(breakdownTable(data, dim, panel, false)));
    el.querySelector('[data-see-all]').hidden = !data.rows.length;
  }, (e) => {
    busy(el, false);
    el.querySelector('[data-see-all]').hidden = true;
    $(panel.id + '-body').replaceChildren(errorBox(e.message, () => loadPanel(panel)));
  });
}

// Every row of the view's breakdown by `dim`, as a CSV download.
function breakdownCsv(dim) {
  const p = app.period;
  return csvLink(statsUrl('breakdown', sitePairs([['by', dim], everyRow(), ['format', 'csv']])),
    fileSafe(app.nav.site + '-' + dim + '-' + p.from + '-' + p.to) + '.csv');
}

// The filter a click on a row of `dim` adds.
function filterFor(dim, value) {
  if (isProp(dim)) return dim + '==' + value;
  const target = dim === 'entry_page' ? 'path' : dim;
  return target + '==' + (value === '(none)' ? '' : value);
}

function emptyText(dim) {
  if (dim === 'name') return 'No custom events in this period.';
  if (isProp(dim)) return 'No custom event carried this property in this period.';
  return 'No data for this period.';
}

function breakdownTable(data, dim, panel, inDialog) {
  const rows = data.rows || [];
  if (nothingToShow(rows)) return h('p', { class: 'placeholder' }, emptyText(dim));
  const countWord = COUNT_WORD[data.count] || 'Count';
  const table = h('table', { class: 'data rows' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, dimLabel(dim)),
      h('th', { scope: 'col', class: 'num' }, 'Visitors'),
      h('th', { scope: 'col', class: 'num' }, countWord),
      h('th', { scope: 'col', class: 'num share-col' }, 'Share'))));
  // A click on a row's value filters the view by it.
  const pick = (row, shown) => {
    // `(none)` of a property counts the custom events without it; a filter
    // on its empty value would keep page views too, so it is no filter.
    if (isProp(dim) && row.value === '(none)') return h('span', { class: 'value' }, shown);
    const filter = filterFor(dim, row.value);
    const description = filterLabel(parseFilter(filter));
    return h('button', {
      type: 'button', class: 'value pick', title: 'Filter: ' + description,
      'aria-label': shown + ' (filter: ' + description + ')',
      onclick: () => {
        if (inDialog) $('all-dialog').close();
        addFilter(filter, panel.id, DRILL[dim]);
      },
    }, shown);
  };
  const { body, folded } = groupRows(dim, rows, pick);
  table.append(body);
  const parts = [h('div', { class: 'table-scroll' }, table)];
  if (folded) {
    parts.push(h('p', { class: 'fineprint' }, OTHER_TEXT));
  }
  const withheld = rows.some((r) => r.value !== '(other)' && (r.unique == null || r.count == null));
  if (withheld) parts.push(h('p', { class: 'fineprint' }, '— withheld: ' + TOO_FEW_VISITORS + '.'));
  return parts;
}

// "See all": the tab's rows, as many as a report may list, in a dialog.
function openAll(panel) {
  const dialog = $('all-dialog');
  const dim = app.tabs[panel.id];
  const tabLabel = (panel.tabs.find((t) => t[0] === dim) || [dim, dimLabel(dim)])[1];
  $('dialog-title').textContent = panel.title + (panel.tabs.length > 1 || panel.select ? ': ' + tabLabel : '');
  const body = $('dialog-body');
  const p = app.period;
  body.replaceChildren(
    h('p', { class: 'muted dialog-sub' }, PERIODS[app.nav.period] + ' · ' + rangeLabel(p.from, p.to) + ' · up to ' + fmt(app.me.limits.max_limit) + ' rows'),
    h('div', { id: 'dialog-rows' }, loadingText()),
    h('div', { class: 'panel-foot' }, breakdownCsv(dim)),
    panel.credit ? attributionLine(app.me.locations_attribution) : null);
  if (!dialog.open) dialog.showModal();
  $('dialog-close').focus();
  track('dialog', 'breakdown', sitePairs([['by', dim], everyRow()]), (data) => {
    $('dialog-rows').replaceChildren(...[].concat(breakdownTable(data, dim, panel, true)));
  }, (e) => {
    $('dialog-rows').replaceChildren(errorBox(e.message, () => openAll(panel)));
  });
}
