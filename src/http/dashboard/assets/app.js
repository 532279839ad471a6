// The dashboard's entry module (index.html loads it; the others it imports
// are served beside it). Plain JavaScript modules, no build step, no
// library; talks to /dashboard/api/* on the same origin (cookie session).
// Owns signing in and out, the page's chrome and which view is drawn;
// every limit it applies is the server's, read from /dashboard/api/me.

import { API, request } from './api.js';
import { PERIODS, periodRange, rangeLabel, rangeProblem, todayIn } from './dates.js';
import { $, h, announce, sentence, setState } from './dom.js';
import { onResize } from './chart.js';
import { renderCampaign, renderCampaigns } from './campaigns.js';
import { renderOverview } from './overview.js';
import { renderChips } from './panels.js';
import { app, beginView, campaignsAllowed, connect, followLink, go, readUrl, settle, siteById, urlFor } from './view.js';

// A `#share=` link opens a session from its grant, then leaves the URL. A
// staff member signed in with a token is asked first: the link's session
// would replace theirs in this browser.
async function boot() {
  wire();
  const hash = location.hash;
  if (hash.indexOf('#share=') === 0) {
    let grant = hash.slice('#share='.length);
    try { grant = decodeURIComponent(grant); } catch (e) { /* keep it as it is */ }
    const staff = await signedInStaff();
    if (staff && !(await confirmShare(staff))) {
      history.replaceState(null, '', location.pathname + location.search);
      await enter(false);
      return;
    }
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

// The token's name when a token's session is open here; null otherwise
// (signed out, a shared view, or no answer: then nothing is replaced that
// the link would not replace anyway).
async function signedInStaff() {
  try {
    const me = await request('GET', API + 'me');
    return me && me.signed_in && !me.shared ? me.name : null;
  } catch (e) {
    return null;
  }
}

// Asks whether a shared link may replace the session of `name`; resolves
// true to open it. Escape, like "Stay signed in", keeps the session.
function confirmShare(name) {
  const dialog = $('share-dialog');
  $('share-dialog-text').textContent = 'You are signed in as ' + name +
    '. Opening this shared link replaces that session in this browser with the link\'s read-only view of one site.';
  return new Promise((resolve) => {
    let open = false;
    const answer = (choice) => () => { open = choice; dialog.close(); };
    $('share-open').onclick = answer(true);
    $('share-stay').onclick = answer(false);
    dialog.addEventListener('close', () => resolve(open), { once: true });
    dialog.showModal();
    $('share-stay').focus();
  });
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
  // Each site's goals, funnels and property keys, as its configuration has them.
  for (const site of me.sites) for (const key of ['goals', 'funnels', 'props']) if (!Array.isArray(site[key])) site[key] = [];
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
  ($('token-name').value ? $('token') : $('token-name')).focus();
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

// The token's name goes with it, so that someone guessing at another name
// from the same address does not slow this sign-in.
async function signIn(event) {
  event.preventDefault();
  const nameInput = $('token-name');
  const name = nameInput.value.trim();
  const input = $('token');
  const token = input.value.trim();
  const error = $('signin-error');
  if (!name) {
    error.textContent = 'Enter the token\'s name.';
    nameInput.focus();
    return;
  }
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
    await request('POST', '/dashboard/session', { name, token });
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

// The signed-in page's chrome: sites, views, sign-out or leave.
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

// The controls and links as `app.nav` says.
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

// Draws the view `app.nav` names; `options.focus`, `focusChips` and
// `focusPanel` say where the keyboard goes after a move.
function render(options) {
  beginView();
  const nav = app.nav;
  const site = nav.site ? siteById(nav.site) : null;
  const tz = site ? site.time_zone : (app.me.sites[0] ? app.me.sites[0].time_zone : 'UTC');
  const [from, to] = periodRange(nav, todayIn(tz));
  app.period = { from, to, tz };
  syncChrome();
  $('filters-note').textContent = '';
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

// The page's own controls, once.
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
    const problem = rangeProblem(from, to, app.me.limits.max_days);
    error.textContent = problem || '';
    if (problem) $('custom-from').focus();
    else go({ period: 'custom', from, to });
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

connect(render, sessionEnded);
// A module runs once the document is parsed: the elements are there.
boot();
