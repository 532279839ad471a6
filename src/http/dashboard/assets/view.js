// What is on screen: the reader (`/dashboard/api/me`, with the server's
// limits), where the page is (read from and written to the URL), the days of
// its period, and the requests of the view, so an answer for a view that is
// gone is never shown.

import { request, statsUrl, isAbort } from './api.js';
import { PERIODS, rangeProblem } from './dates.js';
import { $, h, announce, setState } from './dom.js';

export const app = {
  // The answer of /dashboard/api/me: sites, limits.
  me: null,
  // What the URL says: view, site, period, from, to, filters, campaign.
  nav: null,
  // The days of `nav`'s period in the site's zone: from, to, tz.
  period: null,
  // Each panel's tab (a dimension; the properties panel's is `prop:<key>`),
  // and the funnel shown: kept while the view changes, not in the URL.
  tabs: { pages: 'path', sources: 'referrer_host', locations: 'country', devices: 'browser', events: 'name', props: null },
  funnel: null,
  // Requests of the current view: generation, open requests, failures.
  gen: 0,
  pending: 0,
  failures: new Set(),
  aborts: new Map(),
  notes: new Map(),
  charts: [],
  announceWhenReady: null,
};

// How the page redraws and what it does when the session ends: the entry
// module's, handed over once by `connect` (they build every view).
const hooks = { render: null, sessionEnded: null };

export function connect(render, sessionEnded) {
  hooks.render = render;
  hooks.sessionEnded = sessionEnded;
}

export function siteById(id) {
  return app.me.sites.find((s) => s.id === id) || null;
}

export function campaignsAllowed() {
  return !!(app.me && app.me.campaigns && !app.me.shared);
}

// A filter's parts, or null for text the API would refuse as a filter on
// the site `siteId` (the view's by default): a dimension the server lists,
// one of the site's property keys (`prop:<key>`), or `goal==` one of its
// goals.
export function parseFilter(text, siteId) {
  const m = /^([a-z_]+|prop:[A-Za-z0-9_.-]+)(==|!=|~)([\s\S]*)$/.exec(text);
  if (!m) return null;
  const site = siteById(siteId === undefined ? app.nav.site : siteId);
  const [, dim, op, value] = m;
  const known = dim.indexOf('prop:') === 0
    ? !!site && site.props.indexOf(dim.slice(5)) >= 0
    : app.me.limits.filterable.indexOf(dim) >= 0 &&
      (dim !== 'goal' || (op === '==' && !!site && site.goals.indexOf(value) >= 0));
  return known ? { dim, op, value, text } : null;
}

export function readUrl() {
  const q = new URLSearchParams(location.search);
  const me = app.me;
  const nav = { view: 'overview', site: null, period: '30d', from: null, to: null, filters: [], campaign: null };
  if (campaignsAllowed() && q.get('campaign')) {
    nav.view = 'campaign';
    nav.campaign = q.get('campaign');
  } else if (campaignsAllowed() && q.get('view') === 'campaigns') {
    nav.view = 'campaigns';
  }
  const site = siteById(q.get('site') || '') || me.sites[0] || null;
  nav.site = site ? site.id : null;
  const period = q.get('period');
  if (period && Object.prototype.hasOwnProperty.call(PERIODS, period)) nav.period = period;
  if (nav.period === 'custom') {
    const from = q.get('from');
    const to = q.get('to');
    if (rangeProblem(from, to, me.limits.max_days) === null) {
      nav.from = from;
      nav.to = to;
    } else {
      nav.period = '30d';
    }
  }
  for (const text of q.getAll('filter')) {
    const f = parseFilter(text, nav.site);
    if (f && nav.filters.length < me.limits.max_filters && nav.filters.indexOf(text) < 0) nav.filters.push(text);
  }
  if (!nav.site && nav.view === 'overview' && campaignsAllowed()) nav.view = 'campaigns';
  return nav;
}

export function urlFor(nav) {
  const q = new URLSearchParams();
  if (nav.view === 'campaigns') q.set('view', 'campaigns');
  else if (nav.view === 'campaign') q.set('campaign', nav.campaign);
  else if (nav.site) q.set('site', nav.site);
  q.set('period', nav.period);
  if (nav.period === 'custom') {
    q.set('from', nav.from);
    q.set('to', nav.to);
  }
  if (nav.view === 'overview') for (const f of nav.filters) q.append('filter', f);
  return location.pathname + '?' + q.toString();
}

// Moves to `changes` applied to the current view, with a history entry.
export function go(changes, options) {
  const nav = Object.assign({}, app.nav, changes);
  app.nav = nav;
  const url = urlFor(nav);
  if (url !== location.pathname + location.search) history.pushState(null, '', url);
  hooks.render(options || {});
}

// Draws the view again as it is (a "Try again").
export function redraw() {
  hooks.render({});
}

// A link's click goes to `changes` in the page; a click that opens a new
// tab or window is the browser's.
export function followLink(event, changes) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go(changes, { focus: 'title' });
}

// The parameters of every report of the current view.
export function periodPairs() {
  const p = app.period;
  return [['from', p.from], ['to', p.to], ['tz', p.tz]];
}

// The `limit` pair that asks for every row a report may list.
export const everyRow = () => ['limit', String(app.me.limits.max_limit)];

export function sitePairs(extra) {
  const pairs = [['site', app.nav.site]].concat(periodPairs());
  for (const f of app.nav.filters) pairs.push(['filter', f]);
  return pairs.concat(extra || []);
}

// Runs one request of the current view under `key`: tracks it for
// body[data-state], aborts the previous request under the same key, and
// hands the answer to `done` only if the view is still the same.
export function track(key, kind, pairs, done, fail) {
  const gen = app.gen;
  const previous = app.aborts.get(key);
  if (previous) previous.abort();
  const controller = new AbortController();
  app.aborts.set(key, controller);
  app.pending++;
  setState('loading');
  request('GET', statsUrl(kind, pairs), undefined, controller.signal)
    .then((data) => {
      if (gen !== app.gen || controller.signal.aborted) return;
      app.failures.delete(key);
      done(data);
    }, (e) => {
      if (isAbort(e) || gen !== app.gen) return;
      if (e.status === 401) {
        hooks.sessionEnded();
        return;
      }
      app.failures.add(key);
      fail(e);
    })
    .catch((e) => {
      // A bug in rendering must not leave the page waiting forever.
      app.failures.add(key);
      setTimeout(() => { throw e; });
    })
    .finally(() => {
      if (gen !== app.gen) return;
      if (app.aborts.get(key) === controller) app.aborts.delete(key);
      app.pending--;
      if (app.pending === 0) settle();
    });
}

export function settle() {
  setState(app.failures.size ? 'error' : 'ready');
  renderNotes();
  if (app.announceWhenReady) {
    announce(app.announceWhenReady + (app.failures.size ? ' Some reports could not be loaded.' : ''));
    app.announceWhenReady = null;
  }
}

// Forgets the view on screen: its requests are aborted, their answers dropped.
export function beginView() {
  for (const controller of app.aborts.values()) controller.abort();
  app.aborts.clear();
  app.gen++;
  app.pending = 0;
  app.failures.clear();
  app.notes.clear();
  app.charts = [];
}

export function setNotes(key, notes) {
  app.notes.set(key, Array.isArray(notes) ? notes : []);
}

function renderNotes() {
  const seen = [];
  for (const notes of app.notes.values()) {
    for (const note of notes) if (seen.indexOf(note) < 0) seen.push(note);
  }
  $('about').hidden = seen.length === 0;
  $('about-notes').replaceChildren(...seen.map((n) => h('li', null, n)));
}
