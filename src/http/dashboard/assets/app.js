// Beaconhouse dashboard: plain JavaScript, no build step, no library.
// Talks to /dashboard/api/* on the same origin (cookie session). Every piece
// of report data reaches the page through textContent, never as markup.
'use strict';
(function () {
  // ---------------------------------------------------------------- constants
  const API = '/dashboard/api/';
  const MAX_FILTERS = 3;
  const MAX_DAYS = 732;
  const FILTERABLE = ['path', 'referrer_host', 'utm_source', 'utm_medium', 'utm_campaign',
    'country', 'region', 'city', 'browser', 'os', 'device', 'name'];
  const DIM_LABEL = {
    path: 'Page', entry_page: 'Entry page', referrer_host: 'Referrer', utm_source: 'UTM source',
    utm_medium: 'UTM medium', utm_campaign: 'UTM campaign', country: 'Country', region: 'Region',
    city: 'City', browser: 'Browser', os: 'Operating system', device: 'Device', name: 'Event',
  };
  const PANELS = [
    { id: 'pages', title: 'Pages', tabs: [['path', 'Top pages'], ['entry_page', 'Entry pages']] },
    { id: 'sources', title: 'Sources', tabs: [['referrer_host', 'Referrers'], ['utm_source', 'Source'], ['utm_medium', 'Medium'], ['utm_campaign', 'Campaign']] },
    { id: 'locations', title: 'Locations', tabs: [['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities']] },
    { id: 'devices', title: 'Devices', tabs: [['browser', 'Browsers'], ['os', 'OS'], ['device', 'Devices']] },
    { id: 'events', title: 'Custom events', tabs: [['name', 'Events']] },
  ];
  const DRILL = { country: 'region', region: 'city' };
  const PERIODS = {
    today: 'Today', yesterday: 'Yesterday', '7d': 'Last 7 days', '30d': 'Last 30 days',
    month: 'This month', 'last-month': 'Last month', '12mo': 'Last 12 months', custom: 'Custom range',
  };
  const COUNT_WORD = { pageviews: 'Pageviews', visits: 'Visits', events: 'Events' };
  const SITE_FIGURES = [
    ['visitors', 'Visitors'], ['pageviews', 'Page views'], ['visits', 'Visits'],
    ['views_per_visit', 'Views per visit'], ['bounce_rate', 'Bounce rate'],
  ];
  const OPS = { '==': 'is', '!=': 'is not', '~': 'contains' };
  const PROXIED_TEXT = "Proxied opens were fetched by a mail provider (Gmail's image proxy, Apple Mail Privacy Protection): they show delivery, not that a person read the email.";

  // ------------------------------------------------------------------- state
  const app = {
    me: null,
    // What the URL says: view, site, period, from, to, filters, campaign.
    nav: null,
    tabs: { pages: 'path', sources: 'referrer_host', locations: 'country', devices: 'browser', events: 'name' },
    // Requests of the current view: generation, open requests, failures.
    gen: 0,
    pending: 0,
    failures: new Set(),
    aborts: new Map(),
    notes: new Map(),
    charts: [],
  };

  // ----------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    setProps(el, props);
    append(el, kids);
    return el;
  }

  function svg(tag, props, ...kids) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setProps(el, props);
    append(el, kids);
    return el;
  }

  function setProps(el, props) {
    if (!props) return;
    for (const key of Object.keys(props)) {
      const value = props[key];
      if (value == null || value === false) continue;
      if (key === 'class') el.setAttribute('class', value);
      else if (key === 'text') el.textContent = value;
      else if (key === 'data') Object.assign(el.dataset, value);
      else if (key.slice(0, 2) === 'on') el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : value);
    }
  }

  function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
  }

  const fmt = (n) => (n == null ? '—' : n.toLocaleString('en-US'));

  function fmtPercent(n) {
    return n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + '%';
  }

  function signed(n, digits) {
    const text = Math.abs(n).toLocaleString('en-US', { maximumFractionDigits: digits });
    return (n > 0 ? '+' : n < 0 ? '−' : '±') + text;
  }

  function announce(text) {
    const status = $('status');
    status.textContent = '';
    // A fresh text node after a tick makes screen readers read it again.
    setTimeout(() => { status.textContent = text; }, 50);
  }

  let uid = 0;
  const nextId = (prefix) => prefix + '-' + (++uid);

  // ------------------------------------------------------------------- dates
  const toDate = (day) => new Date(day + 'T00:00:00Z');
  const isoDay = (date) => date.toISOString().slice(0, 10);
  const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

  function addDays(day, n) {
    const date = toDate(day);
    date.setUTCDate(date.getUTCDate() + n);
    return isoDay(date);
  }

  const spanDays = (from, to) => Math.round((toDate(to) - toDate(from)) / 86400000) + 1;

  function validDay(text) {
    if (!DAY_RE.test(text || '')) return false;
    const date = toDate(text);
    return !isNaN(date) && isoDay(date) === text;
  }

  // Today's date where the site is: the period's days are the site's days.
  function todayIn(timeZone) {
    try {
      const parts = new Intl.DateTimeFormat('en-CA', {
        timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
      }).formatToParts(new Date());
      const part = (type) => parts.find((p) => p.type === type).value;
      return part('year') + '-' + part('month') + '-' + part('day');
    } catch (e) {
      return isoDay(new Date());
    }
  }

  function periodRange(nav, timeZone) {
    if (nav.period === 'custom') return [nav.from, nav.to];
    const today = todayIn(timeZone);
    const [y, m] = today.split('-').map(Number);
    const firstOfMonth = today.slice(0, 8) + '01';
    switch (nav.period) {
      case 'today': return [today, today];
      case 'yesterday': return [addDays(today, -1), addDays(today, -1)];
      case '7d': return [addDays(today, -6), today];
      case 'month': return [firstOfMonth, today];
      case 'last-month': return [isoDay(new Date(Date.UTC(y, m - 2, 1))), addDays(firstOfMonth, -1)];
      case '12mo': return [isoDay(new Date(Date.UTC(y, m - 12, 1))), today];
      default: return [addDays(today, -29), today];
    }
  }

  function intervalFor(from, to) {
    const days = spanDays(from, to);
    if (days <= 1) return 'hour';
    if (days <= 60) return 'day';
    if (days <= 180) return 'week';
    return 'month';
  }

  const DATE_FMT = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric' });
  const DATE_FMT_Y = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric', year: 'numeric' });
  const MONTH_FMT = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', year: 'numeric' });

  function rangeLabel(from, to) {
    if (from === to) return DATE_FMT_Y.format(toDate(from));
    const sameYear = from.slice(0, 4) === to.slice(0, 4);
    return (sameYear ? DATE_FMT : DATE_FMT_Y).format(toDate(from)) + ' – ' + DATE_FMT_Y.format(toDate(to));
  }

  function bucketLabel(bucket, interval) {
    if (interval === 'hour') return bucket.slice(11, 16);
    if (interval === 'month') return MONTH_FMT.format(toDate(bucket.slice(0, 10)));
    return DATE_FMT.format(toDate(bucket.slice(0, 10)));
  }

  function bucketLongLabel(bucket, interval) {
    if (interval === 'hour') return DATE_FMT_Y.format(toDate(bucket.slice(0, 10))) + ' ' + bucket.slice(11, 16);
    if (interval === 'month') return MONTH_FMT.format(toDate(bucket.slice(0, 10)));
    if (interval === 'week') return 'Week of ' + DATE_FMT_Y.format(toDate(bucket.slice(0, 10)));
    return DATE_FMT_Y.format(toDate(bucket.slice(0, 10)));
  }

  // ----------------------------------------------------------------- filters
  function parseFilter(text) {
    const m = /^([a-z_]+)(==|!=|~)([\s\S]*)$/.exec(text);
    if (!m || FILTERABLE.indexOf(m[1]) < 0) return null;
    return { dim: m[1], op: m[2], value: m[3], text };
  }

  function filterLabel(f) {
    const value = f.value === '' ? '(none)' : f.value;
    return DIM_LABEL[f.dim].toLowerCase() + ' ' + OPS[f.op] + ' ' + value;
  }

  let regionNames = null;
  try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (e) { regionNames = null; }

  // How a value reads on screen; the raw value stays in data-value.
  function displayValue(dim, value) {
    if (value === '(none)') {
      if (dim === 'referrer_host') return 'Direct / none';
      if (dim === 'country' || dim === 'region' || dim === 'city') return 'Unknown';
      return '(none)';
    }
    if (dim === 'country' && regionNames && /^[A-Z]{2}$/.test(value)) {
      try {
        const name = regionNames.of(value);
        if (name && name !== value) return name;
      } catch (e) { /* not a region code */ }
    }
    return value;
  }

  // ------------------------------------------------------------------- URL
  function siteById(id) {
    return app.me.sites.find((s) => s.id === id) || null;
  }

  function campaignsAllowed() {
    return !!(app.me && app.me.campaigns && !app.me.shared);
  }

  function readUrl() {
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
      if (validDay(from) && validDay(to) && from <= to && spanDays(from, to) <= MAX_DAYS) {
        nav.from = from;
        nav.to = to;
      } else {
        nav.period = '30d';
      }
    }
    for (const text of q.getAll('filter')) {
      const f = parseFilter(text);
      if (f && nav.filters.length < MAX_FILTERS && nav.filters.indexOf(text) < 0) nav.filters.push(text);
    }
    if (!nav.site && nav.view === 'overview' && campaignsAllowed()) nav.view = 'campaigns';
    return nav;
  }

  function urlFor(nav) {
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
  function go(changes, options) {
    const nav = Object.assign({}, app.nav, changes);
    app.nav = nav;
    const url = urlFor(nav);
    if (url !== location.pathname + location.search) history.pushState(null, '', url);
    render(options || {});
  }

  // --------------------------------------------------------------- requests
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  const isAbort = (e) => e && e.name === 'AbortError';

  async function request(method, path, body, signal) {
    const init = { method, headers: { Accept: 'application/json' }, signal, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      if (isAbort(e)) throw e;
      throw new ApiError(0, 'The server could not be reached. Check the connection and try again.');
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    if (!response.ok) {
      const message = data && typeof data.error === 'string' && data.error
        ? data.error
        : 'The server answered ' + response.status + (response.statusText ? ' ' + response.statusText : '') + '.';
      throw new ApiError(response.status, message);
    }
    return data;
  }

  function statsUrl(kind, pairs) {
    const q = new URLSearchParams();
    for (const [key, value] of pairs) q.append(key, value);
    return API + 'stats/' + kind + '?' + q.toString();
  }

  // The parameters of every report of the current view.
  function periodPairs() {
    const p = app.period;
    return [['from', p.from], ['to', p.to], ['tz', p.tz]];
  }

  function sitePairs(extra) {
    const pairs = [['site', app.nav.site]].concat(periodPairs());
    for (const f of app.nav.filters) pairs.push(['filter', f]);
    return pairs.concat(extra || []);
  }

  // Runs one request of the current view under `key`: tracks it for
  // body[data-state], aborts the previous request under the same key, and
  // hands the answer to `done` only if the view is still the same.
  function track(key, kind, pairs, done, fail) {
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
          sessionEnded();
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

  function settle() {
    setState(app.failures.size ? 'error' : 'ready');
    renderNotes();
    if (app.announceWhenReady) {
      announce(app.announceWhenReady + (app.failures.size ? ' Some reports could not be loaded.' : ''));
      app.announceWhenReady = null;
    }
  }

  function beginView() {
    for (const controller of app.aborts.values()) controller.abort();
    app.aborts.clear();
    app.gen++;
    app.pending = 0;
    app.failures.clear();
    app.notes.clear();
    app.charts = [];
  }

  function setState(state) {
    document.body.dataset.state = state;
  }

  // ------------------------------------------------------------- session
  async function boot() {
    wire();
    const hash = location.hash;
    if (hash.indexOf('#share=') === 0) {
      let grant = hash.slice('#share='.length);
      try { grant = decodeURIComponent(grant); } catch (e) { /* keep it as it is */ }
      let failure = null;
      try {
        await request('POST', '/dashboard/session', { share: grant });
      } catch (e) {
        failure = e;
      }
      history.replaceState(null, '', location.pathname + location.search);
      if (failure) {
        showSignIn(sentence(failure.message));
        return;
      }
      await enter(true);
      return;
    }
    await enter(false);
  }

  // Asks who we are and shows the dashboard or the sign-in screen.
  // `justSignedIn`: a session was just created, so signed_in:false means
  // the browser did not keep the cookie.
  async function enter(justSignedIn) {
    setState('loading');
    let me;
    try {
      me = await request('GET', API + 'me');
    } catch (e) {
      showFatal(e.message);
      return;
    }
    if (!me || !me.signed_in) {
      app.me = null;
      // `ended`: why the session the browser sent is no longer valid.
      showSignIn(justSignedIn
        ? 'Your browser did not keep the sign-in cookie: open the dashboard over HTTPS (or on localhost).'
        : (me && typeof me.ended === 'string' ? sentence(me.ended) : ''));
      return;
    }
    me.sites = Array.isArray(me.sites) ? me.sites : [];
    app.me = me;
    app.nav = readUrl();
    const url = urlFor(app.nav);
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
    showDashboard();
    render({ focus: justSignedIn ? 'title' : null });
  }

  function showSignIn(message) {
    beginView();
    app.me = null;
    $('boot').hidden = true;
    $('dashboard').hidden = true;
    $('controls').hidden = true;
    $('nav').hidden = true;
    $('signin').hidden = false;
    $('view').replaceChildren();
    $('view').dataset.kind = '';
    if ($('all-dialog').open) $('all-dialog').close();
    $('signin-error').textContent = message || '';
    document.title = 'Sign in · Beaconhouse';
    setState('signed-out');
    $('token').focus();
  }

  function sessionEnded() {
    showSignIn('Your session has ended; sign in again.');
  }

  function showFatal(message) {
    beginView();
    $('boot').hidden = true;
    $('signin').hidden = true;
    $('dashboard').hidden = true;
    const retry = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => location.reload() }, 'Try again');
    const box = h('div', { class: 'card fatal', role: 'alert' },
      h('h1', null, 'The dashboard could not load'), h('p', null, message), retry);
    const old = document.querySelector('.fatal');
    if (old) old.remove();
    $('main').append(box);
    setState('error');
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $('token');
    const token = input.value.trim();
    const error = $('signin-error');
    if (!token) {
      error.textContent = 'Enter a stats token.';
      input.focus();
      return;
    }
    const button = $('signin-button');
    button.disabled = true;
    error.textContent = '';
    setState('loading');
    try {
      await request('POST', '/dashboard/session', { token });
    } catch (e) {
      button.disabled = false;
      setState('signed-out');
      error.textContent = e.status === 401 || e.status === 400 ? sentence(e.message) : 'Could not sign in: ' + sentence(e.message);
      input.select();
      input.focus();
      return;
    }
    button.disabled = false;
    input.value = '';
    await enter(true);
  }

  async function signOut() {
    const shared = app.me && app.me.shared;
    try {
      await request('DELETE', '/dashboard/session');
    } catch (e) {
      if (e.status !== 401) {
        announce('Could not sign out: ' + e.message);
        return;
      }
    }
    history.pushState(null, '', location.pathname);
    showSignIn('');
    announce(shared ? 'You left the shared view.' : 'You are signed out.');
  }

  // ---------------------------------------------------------------- chrome
  function showDashboard() {
    const me = app.me;
    $('boot').hidden = true;
    $('signin').hidden = true;
    $('signin-error').textContent = '';
    $('dashboard').hidden = false;
    $('controls').hidden = false;
    $('nav').hidden = !campaignsAllowed();
    $('shared-note').hidden = !me.shared;
    $('signout').textContent = me.shared ? 'Leave shared view' : 'Sign out';
    const select = $('site');
    select.replaceChildren(...me.sites.map((s) => h('option', { value: s.id }, s.id)));
    const fatal = document.querySelector('.fatal');
    if (fatal) fatal.remove();
  }

  function syncChrome() {
    const nav = app.nav;
    const me = app.me;
    $('site-control').hidden = me.sites.length < 2 || nav.view !== 'overview';
    $('site').value = nav.site || '';
    $('period').value = nav.period;
    const custom = $('custom-range');
    custom.hidden = nav.period !== 'custom';
    if (nav.period === 'custom') {
      custom.hidden = false;
      $('custom-from').value = nav.from;
      $('custom-to').value = nav.to;
    }
    $('custom-error').textContent = '';
    for (const [id, view] of [['nav-overview', 'overview'], ['nav-campaigns', 'campaigns']]) {
      const link = $(id);
      const current = nav.view === view || (view === 'campaigns' && nav.view === 'campaign');
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
      link.href = urlFor(Object.assign({}, nav, { view, campaign: null }));
    }
    $('brand').href = urlFor(Object.assign({}, nav, { view: nav.site ? 'overview' : nav.view, campaign: null }));
    renderChips();
  }

  function renderChips() {
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

  function addFilter(text, panelId, nextTab) {
    const note = $('filters-note');
    const nav = app.nav;
    $('filters').hidden = false;
    if (nav.filters.indexOf(text) >= 0) {
      note.textContent = 'That filter is already set.';
      announce(note.textContent);
      return false;
    }
    if (nav.filters.length >= MAX_FILTERS) {
      note.textContent = 'At most ' + MAX_FILTERS + ' filters can be combined: remove one to add another.';
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

  // ---------------------------------------------------------------- render
  function render(options) {
    beginView();
    const nav = app.nav;
    const site = nav.site ? siteById(nav.site) : null;
    const tz = site ? site.time_zone : (app.me.sites[0] ? app.me.sites[0].time_zone : 'UTC');
    const [from, to] = periodRange(nav, tz);
    app.period = { from, to, tz };
    syncChrome();
    $('filters-note').textContent = options.keepNote ? $('filters-note').textContent : '';
    const label = PERIODS[nav.period] + ' · ' + rangeLabel(from, to) + ' · ' + tz;
    $('view-period').textContent = label;
    if (nav.view === 'campaigns') renderCampaigns();
    else if (nav.view === 'campaign') renderCampaign();
    else renderOverview();
    const title = $('view-title').textContent;
    document.title = title + ' · Beaconhouse';
    app.announceWhenReady = title + ', ' + PERIODS[nav.period].toLowerCase() + (nav.filters.length && nav.view === 'overview'
      ? ', ' + nav.filters.length + (nav.filters.length === 1 ? ' filter' : ' filters') : '') + ': loaded.';
    if (options.focus === 'title') $('main').focus({ preventScroll: true });
    if (options.focusChips) {
      const button = document.querySelector('#chips button');
      ($('filters').hidden || !button ? $('main') : button).focus({ preventScroll: true });
    }
    if (options.focusPanel) {
      const tab = document.querySelector('[data-panel="' + options.focusPanel + '"] [role="tab"][aria-selected="true"]')
        || document.querySelector('[data-panel="' + options.focusPanel + '"] h2');
      if (tab) tab.focus({ preventScroll: true });
    }
    if (app.pending === 0) settle();
  }

  function setNotes(key, notes) {
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

  function card(panel, titleText, ...kids) {
    const id = nextId('h');
    return h('section', { class: 'card', data: { panel }, 'aria-labelledby': id },
      h('h2', { id, class: 'card-title', tabindex: '-1' }, titleText), kids);
  }

  function loadingText() {
    return h('p', { class: 'placeholder' }, 'Loading…');
  }

  function sentence(text) {
    const t = String(text || '').trim();
    if (!t) return '';
    return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
  }

  function errorBox(message, retry) {
    return h('div', { class: 'panel-error' },
      h('p', null, h('strong', null, 'Could not load this report: '), sentence(message)),
      retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
  }

  function busy(el, on) {
    el.classList.toggle('is-loading', on);
    if (on) el.setAttribute('aria-busy', 'true');
    else el.removeAttribute('aria-busy');
  }

  function csvLink(href, filename, text) {
    return h('a', { class: 'csv', href, download: filename, data: { csv: '' } },
      h('span', { class: 'csv-icon', 'aria-hidden': 'true' }), text || 'Download CSV');
  }

  const fileSafe = (text) => String(text).replace(/[^A-Za-z0-9._-]+/g, '_');

  // ------------------------------------------------------------- overview
  function renderOverview() {
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
    for (const panel of PANELS) loadPanel(panel);
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
      h('div', { class: 'panel-status', id: 'summary-status' }));
    summary.querySelector('h2').classList.add('sr-only');

    const chart = chartCard('Visitors and page views');
    const panels = h('div', { class: 'panels' }, PANELS.map(buildPanel));
    view.replaceChildren(summary, chart, panels);
  }

  function chartCard(title) {
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
    const k = app.me.min_group_size || 5;
    for (const [key] of SITE_FIGURES) {
      const value = panel.querySelector('[data-figure="' + key + '"]');
      const changeEl = panel.querySelector('[data-change="' + key + '"]');
      changeEl.className = 'figure-change';
      if (!current) {
        value.textContent = '—';
        value.parentElement.classList.add('withheld');
        changeEl.textContent = 'fewer than ' + k + ' visitors';
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
      if (!data.previous) caption = 'No comparison: the previous period ' + dates + ' is withheld, fewer than ' + k + ' visitors.';
      else if (!change || SITE_FIGURES.some(([key]) => (key === 'bounce_rate' ? change.bounce_rate_points : change[key]) == null)) {
        caption = 'Changes compare with the previous period ' + dates + '; where it had none, there is no change to show.';
      } else caption = 'Changes compare with the previous period ' + dates + '.';
    }
    // What "visitors" means, where the figure is shown: ids change daily.
    const daily = 'A visitor counts once per day: someone who comes back on another day counts again.';
    $('summary-caption').textContent = caption ? caption + ' ' + daily : daily;
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

  function showSeries(points, series, interval, firstColumn, people) {
    people = people || 'visitors';
    const allWithheld = points.length > 0 && points.every((pt) => series.every((s) => pt.values[s.key] == null));
    const withheld = !allWithheld && points.some((pt) => series.some((s) => pt.values[s.key] == null));
    $('chart-legend').replaceChildren(...series.map((s) =>
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch ' + s.cls, 'aria-hidden': 'true' }), s.name)),
    withheld ? h('span', { class: 'legend-item legend-gap' }, 'Gaps: withheld, fewer than ' + (app.me.min_group_size || 5) + ' ' + people) : '');
    if (allWithheld) {
      app.charts = [];
      $('chart').replaceChildren(h('p', { class: 'placeholder' },
        'Every figure of this chart is withheld: fewer than ' + (app.me.min_group_size || 5) + ' ' + people + ' in each ' +
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

  // ----------------------------------------------------------------- chart
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
  function onResize() {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      for (const chart of app.charts) {
        if (chart.box.isConnected && Math.abs(chart.box.clientWidth - chart.width) > 4) paintChart(chart);
      }
    });
  }

  // ---------------------------------------------------------------- panels
  function buildPanel(panel) {
    const titleId = nextId('h');
    const head = h('div', { class: 'card-head' }, h('h2', { id: titleId, class: 'card-title', tabindex: '-1' }, panel.title));
    if (panel.tabs.length > 1) {
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
    const body = h('div', { class: 'panel-body', id: panel.id + '-body', role: panel.tabs.length > 1 ? 'tabpanel' : null }, loadingText());
    const foot = h('div', { class: 'panel-foot' },
      h('button', { type: 'button', class: 'btn btn-small', data: { seeAll: panel.id }, onclick: () => openAll(panel) }, 'See all'),
      h('span', { class: 'panel-csv', id: panel.id + '-csv' }));
    return h('section', { class: 'card panel', data: { panel: panel.id }, 'aria-labelledby': titleId }, head, body, foot);
  }

  function syncTabs(panel) {
    const el = document.querySelector('[data-panel="' + panel.id + '"]');
    const selected = app.tabs[panel.id];
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

  function loadPanel(panel) {
    const el = document.querySelector('[data-panel="' + panel.id + '"]');
    const dim = app.tabs[panel.id];
    syncTabs(panel);
    busy(el, true);
    const p = app.period;
    $(panel.id + '-csv').replaceChildren(csvLink(
      statsUrl('breakdown', sitePairs([['by', dim], ['limit', '1000'], ['format', 'csv']])),
      fileSafe(app.nav.site + '-' + dim + '-' + p.from + '-' + p.to) + '.csv'));
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

  // The filter a click on a row of `dim` adds.
  function filterFor(dim, value) {
    const target = dim === 'entry_page' ? 'path' : dim;
    return target + '==' + (value === '(none)' ? '' : value);
  }

  function emptyText(dim) {
    if (dim === 'name') return 'No custom events in this period.';
    return 'No data for this period.';
  }

  // A row's share of the total's uniques as a bar behind its value; the
  // width is set through the CSSOM, which the CSP allows.
  function shareBar(share) {
    const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
    bar.style.width = Math.max(0, Math.min(100, share || 0)) + '%';
    return bar;
  }

  function breakdownTable(data, dim, panel, inDialog) {
    const rows = data.rows || [];
    if (!rows.length) return h('p', { class: 'placeholder' }, emptyText(dim));
    const countWord = COUNT_WORD[data.count] || 'Count';
    const k = app.me.min_group_size || 5;
    const table = h('table', { class: 'data rows' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, DIM_LABEL[dim]),
        h('th', { scope: 'col', class: 'num' }, 'Visitors'),
        h('th', { scope: 'col', class: 'num' }, countWord),
        h('th', { scope: 'col', class: 'num share-col' }, 'Share'))));
    const body = h('tbody');
    let folded = false;
    for (const row of rows) {
      const other = row.value === '(other)';
      folded = folded || other;
      const shown = displayValue(dim, row.value);
      const bar = shareBar(row.share);
      let label;
      if (other || !panel) {
        label = h('span', { class: 'value' + (other ? ' other' : '') }, other ? '(other)' : shown);
      } else {
        const filter = filterFor(dim, row.value);
        const description = filterLabel(parseFilter(filter));
        label = h('button', {
          type: 'button', class: 'value pick', title: 'Filter: ' + description,
          'aria-label': shown + ' (filter: ' + description + ')',
          onclick: () => {
            if (inDialog) $('all-dialog').close();
            addFilter(filter, panel.id, DRILL[dim]);
          },
        }, shown);
      }
      body.append(h('tr', { data: { row: '', value: row.value } },
        h('th', { scope: 'row', class: 'cell-value' }, bar, label,
          dim === 'country' && row.value !== shown && /^[A-Z]{2}$/.test(row.value) ? h('span', { class: 'code' }, row.value) : null),
        h('td', { class: 'num', data: { cell: 'unique' } }, fmt(row.unique)),
        h('td', { class: 'num', data: { cell: 'count' } }, fmt(row.count)),
        h('td', { class: 'num share-col muted' }, row.share == null ? '—' : fmtPercent(row.share))));
    }
    table.append(body);
    const parts = [h('div', { class: 'table-scroll' }, table)];
    if (folded) {
      parts.push(h('p', { class: 'fineprint' },
        '(other): folded groups of fewer than ' + k + ' visitors and rows past the limit; their visitors are not added up.'));
    }
    const withheld = rows.some((r) => r.value !== '(other)' && (r.unique == null || r.count == null));
    if (withheld) parts.push(h('p', { class: 'fineprint' }, '— withheld: fewer than ' + k + ' visitors.'));
    return parts;
  }

  // ------------------------------------------------------------- see all
  function openAll(panel) {
    const dialog = $('all-dialog');
    const dim = app.tabs[panel.id];
    const tabLabel = (panel.tabs.find((t) => t[0] === dim) || [dim, DIM_LABEL[dim]])[1];
    $('dialog-title').textContent = panel.title + (panel.tabs.length > 1 ? ': ' + tabLabel : '');
    const body = $('dialog-body');
    const p = app.period;
    body.replaceChildren(
      h('p', { class: 'muted dialog-sub' }, PERIODS[app.nav.period] + ' · ' + rangeLabel(p.from, p.to) + ' · up to 1,000 rows'),
      h('div', { id: 'dialog-rows' }, loadingText()),
      h('div', { class: 'panel-foot' }, csvLink(
        statsUrl('breakdown', sitePairs([['by', dim], ['limit', '1000'], ['format', 'csv']])),
        fileSafe(app.nav.site + '-' + dim + '-' + p.from + '-' + p.to) + '.csv')));
    if (!dialog.open) dialog.showModal();
    $('dialog-close').focus();
    track('dialog', 'breakdown', sitePairs([['by', dim], ['limit', '1000']]), (data) => {
      $('dialog-rows').replaceChildren(...[].concat(breakdownTable(data, dim, panel, true)));
    }, (e) => {
      $('dialog-rows').replaceChildren(errorBox(e.message, () => openAll(panel)));
    });
  }

  // ------------------------------------------------------------ campaigns
  function campaignsPairs() {
    return periodPairs();
  }

  function renderCampaigns() {
    $('view-title').textContent = 'Email campaigns';
    const view = $('view');
    view.dataset.kind = 'campaigns';
    const p = app.period;
    const body = h('div', { class: 'panel-body', id: 'campaigns-body' }, loadingText());
    const section = card('campaigns', 'Campaigns', body,
      h('div', { class: 'panel-foot' }, csvLink(statsUrl('campaigns', campaignsPairs().concat([['format', 'csv']])),
        'campaigns-' + p.from + '-' + p.to + '.csv')));
    busy(section, true);
    view.replaceChildren(section);
    track('campaigns', 'campaigns', campaignsPairs(), (data) => {
      busy(section, false);
      setNotes('campaigns', data.notes);
      body.replaceChildren(campaignsTable(data));
    }, (e) => {
      busy(section, false);
      body.replaceChildren(errorBox(e.message, () => render({})));
    });
  }

  function withheldCell(value, key, k) {
    if (value != null) return h('td', { class: 'num' }, h('span', { data: { cell: key } }, fmt(value)));
    return h('td', { class: 'num withheld' }, h('span', { data: { cell: key } }, '—'),
      h('span', { class: 'withheld-note' }, ' fewer than ' + k + ' recipients'));
  }

  function campaignsTable(data) {
    const list = data.campaigns || [];
    if (!list.length) return h('p', { class: 'placeholder' }, 'No campaign was opened in this period.');
    const k = app.me.min_group_size || 5;
    const body = h('tbody');
    for (const c of list) {
      const href = urlFor(Object.assign({}, app.nav, { view: 'campaign', campaign: c.campaign }));
      body.append(h('tr', { data: { row: '', value: c.campaign } },
        h('th', { scope: 'row' }, h('a', {
          href, onclick: (event) => followLink(event, { view: 'campaign', campaign: c.campaign }),
        }, c.campaign)),
        withheldCell(c.opens, 'count', k),
        withheldCell(c.unique_opens, 'unique', k)));
    }
    return h('div', { class: 'table-scroll' }, h('table', { class: 'data' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Campaign'),
        h('th', { scope: 'col', class: 'num' }, 'Opens'), h('th', { scope: 'col', class: 'num' }, 'Unique opens'))),
      body));
  }

  function followLink(event, changes) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(changes, { focus: 'title' });
  }

  const EMAIL_FIGURES = [
    ['opens', 'Opens'], ['unique_opens', 'Unique opens'], ['proxied_opens', 'Proxied opens'],
    ['direct_opens', 'Direct opens'], ['unique_direct_opens', 'Unique direct opens'],
  ];

  function renderCampaign() {
    const nav = app.nav;
    $('view-title').textContent = nav.campaign;
    const view = $('view');
    view.dataset.kind = 'campaign';
    const p = app.period;
    const k = app.me.min_group_size || 5;
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
    const csvHref = statsUrl('email', [['campaign', nav.campaign]].concat(periodPairs(), [['limit', '1000'], ['format', 'csv']]));
    const csvName = fileSafe(nav.campaign + '-' + p.from + '-' + p.to) + '.csv';
    const summary = h('section', { class: 'card', 'aria-label': 'Opens' }, figures,
      h('p', { class: 'explain' }, PROXIED_TEXT), h('div', { class: 'panel-status', id: 'campaign-status' }));
    const chart = chartCard('Opens by day');
    const clients = h('div', { class: 'panel-body' }, loadingText());
    const countries = h('div', { class: 'panel-body' }, loadingText());
    const groups = h('div', { class: 'panels' },
      card('clients', 'Mail clients', clients, h('div', { class: 'panel-foot' }, csvLink(csvHref, csvName, 'Download CSV (whole report)'))),
      card('countries', 'Countries', countries, h('div', { class: 'panel-foot' }, csvLink(csvHref, csvName, 'Download CSV (whole report)'))));
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
        note.textContent = value == null ? 'fewer than ' + k + ' recipients' : '\u00a0';
        note.classList.toggle('withheld-note', value == null);
      }
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
      $('campaign-status').replaceChildren(errorBox(e.message, () => render({})));
      $('chart').replaceChildren();
      clients.replaceChildren();
      countries.replaceChildren();
    });
  }

  function emailRows(rows, label, dim) {
    if (!rows || !rows.length) return h('p', { class: 'placeholder' }, 'No opens in this period.');
    const k = app.me.min_group_size || 5;
    const body = h('tbody');
    let folded = false;
    for (const row of rows) {
      const other = row.value === '(other)';
      folded = folded || other;
      const shown = displayValue(dim, row.value);
      const bar = shareBar(row.share);
      body.append(h('tr', { data: { row: '', value: row.value } },
        h('th', { scope: 'row', class: 'cell-value' }, bar, h('span', { class: 'value' + (other ? ' other' : '') }, shown),
          dim === 'country' && shown !== row.value && /^[A-Z]{2}$/.test(row.value) ? h('span', { class: 'code' }, row.value) : null),
        h('td', { class: 'num', data: { cell: 'unique' } }, fmt(row.unique)),
        h('td', { class: 'num', data: { cell: 'count' } }, fmt(row.count)),
        h('td', { class: 'num share-col muted' }, row.share == null ? '—' : fmtPercent(row.share))));
    }
    const parts = [h('div', { class: 'table-scroll' }, h('table', { class: 'data rows' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, label), h('th', { scope: 'col', class: 'num' }, 'Recipients'),
        h('th', { scope: 'col', class: 'num' }, 'Opens'), h('th', { scope: 'col', class: 'num share-col' }, 'Share'))),
      body))];
    if (folded) parts.push(h('p', { class: 'fineprint' }, '(other): folded groups of fewer than ' + k + ' recipients and rows past the limit.'));
    return parts;
  }

  // ----------------------------------------------------------------- wiring
  function wire() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('site').addEventListener('change', (event) => go({ site: event.target.value, filters: [] }));
    $('period').addEventListener('change', (event) => {
      const period = event.target.value;
      const custom = $('custom-range');
      if (period === 'custom') {
        const p = app.period;
        custom.hidden = false;
        $('custom-from').value = app.nav.period === 'custom' ? app.nav.from : p.from;
        $('custom-to').value = app.nav.period === 'custom' ? app.nav.to : p.to;
        $('custom-error').textContent = '';
        $('custom-from').focus();
        return;
      }
      custom.hidden = true;
      go({ period, from: null, to: null });
    });
    $('custom-range').addEventListener('submit', (event) => {
      event.preventDefault();
      const from = $('custom-from').value;
      const to = $('custom-to').value;
      const error = $('custom-error');
      if (!validDay(from) || !validDay(to)) error.textContent = 'Enter both dates.';
      else if (from > to) error.textContent = 'The first day must not be after the last.';
      else if (spanDays(from, to) > MAX_DAYS) error.textContent = 'A period covers at most ' + MAX_DAYS + ' days.';
      else {
        error.textContent = '';
        go({ period: 'custom', from, to });
        return;
      }
      $('custom-from').focus();
    });
    for (const [id, view] of [['nav-overview', 'overview'], ['nav-campaigns', 'campaigns'], ['brand', null]]) {
      $(id).addEventListener('click', (event) => {
        if (!app.me) return;
        const target = view || (app.nav.site ? 'overview' : app.nav.view);
        followLink(event, { view: target, campaign: null });
      });
    }
    $('dialog-close').addEventListener('click', () => $('all-dialog').close());
    $('all-dialog').addEventListener('click', (event) => {
      // A click on the backdrop closes the dialog.
      if (event.target === $('all-dialog')) $('all-dialog').close();
    });
    $('all-dialog').addEventListener('close', () => {
      const controller = app.aborts.get('dialog');
      if (controller) controller.abort();
    });
    window.addEventListener('popstate', () => {
      if (!app.me) return;
      if ($('all-dialog').open) $('all-dialog').close();
      app.nav = readUrl();
      render({});
    });
    window.addEventListener('resize', onResize);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
