// Conversions on the overview, for a site that defines them: its goals
// (converting visitors, conversions, conversion rate and their change
// against the previous period; a click on a goal filters the whole view by
// it) and its funnels (each step a bar as long as its visitors, with its
// share of the first step and the drop-off from the one before). Which
// goals and funnels a site has is its configuration's, from
// /dashboard/api/me; every figure is the goals or funnel report's.

import { statsUrl } from './api.js';
import { rangeLabel } from './dates.js';
import { $, h, fmt, fmtPercent, signed, busy, card, csvLink, errorBox, fileSafe, loadingText, TOO_FEW_VISITORS } from './dom.js';
import { addFilter, filterLabel } from './panels.js';
import { app, parseFilter, periodPairs, siteById, sitePairs, track, setNotes } from './view.js';

const WITHHELD = '— withheld: ' + TOO_FEW_VISITORS + '.';

// As shown, to one decimal; a change that reads 0 is no change.
const round1 = (n) => Math.round(n * 10) / 10 || 0;
const percent = (n) => (n == null ? '—' : fmtPercent(round1(n)));

// The goals card and the funnel card of `site`, each only if it has any.
export function conversionCards(site) {
  const cards = [];
  if (site.goals.length) {
    cards.push(card('goals', 'Goals',
      h('div', { class: 'panel-body', id: 'goals-body' }, loadingText()),
      h('p', { class: 'caption', id: 'goals-caption' }),
      h('div', { class: 'panel-foot' }, h('span', { id: 'goals-csv' }))));
  }
  if (site.funnels.length) {
    const choose = site.funnels.length > 1
      ? h('div', { class: 'control' }, h('label', { for: 'funnel-select' }, 'Funnel'),
        h('select', {
          id: 'funnel-select',
          onchange: (event) => { app.funnel = event.target.value; loadFunnel(); },
        }, site.funnels.map((name) => h('option', { value: name }, name))))
      : h('p', { class: 'muted', id: 'funnel-name' });
    const funnel = card('funnel', 'Funnel',
      h('div', { class: 'panel-body', id: 'funnel-body' }, loadingText()),
      h('p', { class: 'caption', id: 'funnel-caption' }),
      h('div', { class: 'panel-foot' }, h('span', { id: 'funnel-csv' })));
    const title = funnel.querySelector('h2');
    const head = h('div', { class: 'card-head' });
    title.before(head);
    head.append(title, choose);
    cards.push(funnel);
  }
  return cards;
}

// Loads the cards `conversionCards` made for the view's site.
export function loadConversions() {
  const site = siteById(app.nav.site);
  if (site.goals.length) loadGoals();
  if (site.funnels.length) loadFunnel();
}

function csvFor(id, kind, pairs, name) {
  const p = app.period;
  $(id).replaceChildren(csvLink(statsUrl(kind, pairs.concat([['format', 'csv']])),
    fileSafe(app.nav.site + '-' + name + '-' + p.from + '-' + p.to) + '.csv'));
}

// ----------------------------------------------------------------- goals
function loadGoals() {
  const el = document.querySelector('[data-panel="goals"]');
  busy(el, true);
  csvFor('goals-csv', 'goals', sitePairs(), 'goals');
  track('goals', 'goals', sitePairs(), (data) => {
    busy(el, false);
    setNotes('goals', data.notes);
    $('goals-body').replaceChildren(...[].concat(goalsTable(data)));
    $('goals-caption').textContent = goalsCaption(data);
  }, (e) => {
    busy(el, false);
    $('goals-body').replaceChildren(errorBox(e.message, loadGoals));
    $('goals-caption').textContent = '';
  });
}

// A figure's cell: its text under `data-cell`, or — when withheld.
function figure(key, text) {
  return h('td', { class: 'num' + (text === '—' ? ' withheld' : '') }, h('span', { data: { cell: key } }, text));
}

// The change of converting visitors against the previous period, and of
// the conversion rate in points.
function changeCell(goal) {
  const delta = goal.change == null ? null : round1(goal.change);
  const points = goal.rate_change_points == null ? null : round1(goal.rate_change_points);
  const cls = delta == null ? '' : delta > 0 ? ' good' : delta < 0 ? ' bad' : ' flat';
  const main = delta == null
    ? h('span', { class: 'muted', data: { cell: 'change' } }, goal.current.converting_visitors == null ? '—' : 'no comparison')
    : h('span', { class: 'delta' }, h('span', { 'aria-hidden': 'true' }, delta > 0 ? '↑ ' : delta < 0 ? '↓ ' : ''),
      h('span', { data: { cell: 'change' } }, signed(delta, 1) + '%'));
  return h('td', { class: 'num change' + cls }, main, points == null ? null
    : h('span', { class: 'sub' }, 'rate ', h('span', { data: { cell: 'rate_change_points' } },
      signed(points, 1) + (Math.abs(points) === 1 ? ' point' : ' points'))));
}

function goalsTable(data) {
  const goals = data.goals || [];
  if (!goals.length) return h('p', { class: 'placeholder' }, 'The site defines no goals.');
  const body = h('tbody');
  let withheld = false;
  for (const goal of goals) {
    const now = goal.current || {};
    const filter = 'goal==' + goal.name;
    const label = filterLabel(parseFilter(filter));
    const on = app.nav.filters.indexOf(filter) >= 0;
    withheld = withheld || now.converting_visitors == null || now.conversions == null;
    body.append(h('tr', { data: { goal: goal.name }, class: on ? 'is-filter' : null },
      h('th', { scope: 'row', class: 'cell-value' }, h('button', {
        type: 'button', class: 'value pick', title: 'Filter: ' + label,
        'aria-label': goal.name + ' (filter: ' + label + ')', 'aria-pressed': on ? 'true' : 'false',
        onclick: () => addFilter(filter, 'goals'),
      }, goal.name)),
      figure('converting_visitors', fmt(now.converting_visitors)),
      figure('conversions', fmt(now.conversions)),
      figure('conversion_rate', percent(now.conversion_rate)),
      changeCell(goal)));
  }
  const table = h('table', { class: 'data rows goals' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Goal'),
      h('th', { scope: 'col', class: 'num' }, 'Converting visitors'),
      h('th', { scope: 'col', class: 'num' }, 'Conversions'),
      h('th', { scope: 'col', class: 'num' }, 'Conversion rate'),
      h('th', { scope: 'col', class: 'num' }, 'Change'))),
    body);
  return [h('div', { class: 'table-scroll' }, table), withheld ? h('p', { class: 'fineprint' }, WITHHELD) : null];
}

// What the figures mean: within a UTC day, over which visitors, against when.
function goalsCaption(data) {
  const base = data.visitors == null
    ? 'The conversion rate is converting visitors over all visitors, who are too few to show here.'
    : 'The conversion rate is converting visitors over the period\'s ' + fmt(data.visitors) + ' visitors.';
  const prev = data.previous_period;
  const against = prev ? ' Change: converting visitors (and the rate, in points) against ' + rangeLabel(prev.from, prev.to) + '.' : '';
  return 'A visitor converts by reaching the goal within one UTC day (visitor ids change daily: someone who comes back another day to convert counts as a new visitor). ' +
    base + against + ' Click a goal to see only the visitors who reached it.';
}

// ---------------------------------------------------------------- funnel
function loadFunnel() {
  const site = siteById(app.nav.site);
  if (site.funnels.indexOf(app.funnel) < 0) app.funnel = site.funnels[0];
  const name = app.funnel;
  const select = $('funnel-select');
  if (select) select.value = name;
  else $('funnel-name').textContent = name;
  const el = document.querySelector('[data-panel="funnel"]');
  busy(el, true);
  // A funnel counts every visitor of the period: it takes no filter.
  const pairs = [['site', app.nav.site]].concat(periodPairs(), [['funnel', name]]);
  csvFor('funnel-csv', 'funnel', pairs, 'funnel-' + name);
  track('funnel', 'funnel', pairs, (data) => {
    busy(el, false);
    setNotes('funnel', data.notes);
    $('funnel-body').replaceChildren(funnelSteps(data));
    $('funnel-caption').textContent = 'A visitor reaches a step after reaching every step before it, in order, within one UTC day.' +
      (app.nav.filters.length ? ' Filters do not apply to funnels: every visitor of the period counts.' : '') +
      (data.steps.some((s) => s.visitors == null) ? ' ' + WITHHELD : '');
  }, (e) => {
    busy(el, false);
    $('funnel-body').replaceChildren(errorBox(e.message, loadFunnel));
    $('funnel-caption').textContent = '';
  });
}

// `page:/pricing` as `Page /pricing`, `event:book_tour` as `Event book_tour`.
function stepName(reachedBy) {
  const at = reachedBy.indexOf(':');
  const kind = reachedBy.slice(0, at);
  return (kind === 'page' ? 'Page ' : kind === 'event' ? 'Event ' : kind + ' ') + reachedBy.slice(at + 1);
}

// The steps as an ordered list: each a bar as long as its share of the
// most visitors any step has (the first, but for noise), its visitors and
// (after the first) its share of the first step and the drop-off from the
// step before.
function funnelSteps(data) {
  const steps = data.steps || [];
  const most = Math.max(0, ...steps.map((s) => s.visitors || 0));
  const list = h('ol', { class: 'funnel' });
  for (const step of steps) {
    const bar = h('span', { class: 'step-bar' });
    bar.style.width = (most > 0 && step.visitors != null ? 100 * step.visitors / most : 0) + '%';
    const withheld = step.visitors == null;
    list.append(h('li', { class: 'step' + (withheld ? ' withheld' : ''), data: { step: String(step.step), value: step.reached_by } },
      step.step > 1 ? h('p', { class: 'step-drop' }, h('span', { 'aria-hidden': 'true' }, '↓ '),
        h('span', { data: { cell: 'drop_off' } }, percent(step.drop_off)),
        step.drop_off == null ? ' drop-off withheld' : ' dropped off') : null,
      h('div', { class: 'step-head' },
        h('span', { class: 'step-name' }, step.step + '. ' + stepName(step.reached_by)),
        h('span', { class: 'step-figures' },
          h('span', { data: { cell: 'visitors' } }, fmt(step.visitors)),
          withheld ? ' ' + TOO_FEW_VISITORS : ' visitors',
          step.step > 1 && step.of_first != null
            ? [' · ', h('span', { data: { cell: 'of_first' } }, percent(step.of_first)), ' of step 1'] : null)),
      h('div', { class: 'step-track', 'aria-hidden': 'true' }, withheld ? null : bar)));
  }
  return steps.length ? list : h('p', { class: 'placeholder' }, 'This funnel has no steps.');
}
