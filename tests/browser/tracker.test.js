// The served tracker (src/http/tracker.min.js, /t.js), run in Chromium by
// tests/browser/unit.py: what it sends, where, and when it sends nothing.
// Each test loads it into a fresh frame of its own, as a site's page would
// (unit.py serves it at /t.js, so it finds its collector from its own URL).
// The frames are pages of http://unit.test, which is no developer's own
// machine: the tracker counts there without data-local.

let frames = 0;

// A frame with the tracker loaded into it: `prepare(win)` runs first (the
// visitor's browser settings, the page's address); every beacon and fetch
// it makes is recorded in `sent`, and `beacon` says what sendBeacon answers
// (null: it has none). `data` holds the script tag's data- attributes
// (`site` among them; null for none).
//
// `at` plays a page at another address (http://localhost:3000/): the
// served bytes run as an inline script given that address as `location`,
// the one name the tracker reads it by. The frame stays where it is, and
// an inline script has no src, so such a tracker sends to ''.
async function track({
  src = '/t.js', data = {}, prepare = () => {}, beacon = true, referrer = true, at = null,
} = {}) {
  const frame = document.createElement('iframe');
  if (!referrer) frame.referrerPolicy = 'no-referrer';
  frame.src = '/?frame=' + (++frames);
  const loaded = new Promise((resolve) => { frame.onload = resolve; });
  document.body.append(frame);
  await loaded;
  const win = frame.contentWindow;
  const sent = [];
  const record = (via, url, body, init) => sent.push({ via, url, fields: JSON.parse(body), init });
  win.navigator.sendBeacon = beacon === null ? undefined : (url, body) => {
    record('beacon', url, body);
    return beacon;
  };
  win.fetch = (url, init) => {
    record('fetch', url, init.body, init);
    return Promise.resolve(new Response(null, { status: 202 }));
  };
  prepare(win);
  const script = win.document.createElement('script');
  for (const [name, value] of Object.entries({ site: 'example.com', ...data })) {
    if (value !== null) script.setAttribute('data-' + name, value);
  }
  if (at) {
    const code = await (await fetch(src)).text();
    const url = new URL(at);
    const place = {};
    for (const key of ['href', 'protocol', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) place[key] = url[key];
    script.text = '(function (location) {\n' + code + '\n})(' + JSON.stringify(place) + ');';
    win.document.head.append(script);
    return { win, sent };
  }
  script.src = src;
  await new Promise((resolve, reject) => {
    script.onload = resolve;
    script.onerror = () => reject(new Error('the tracker did not load from ' + src));
    win.document.head.append(script);
  });
  return { win, sent };
}

// Clicks (or `type`, with `button`) on what a link holds, as a visitor
// would: the link is `<a href=HREF><span>`, the event lands on the span.
// The page's last listener (the window's, bubbling) records whether the
// click's default was prevented and how many requests were already made,
// then prevents it itself, so the frame stays on its page. Returns those.
function click(win, sent, href, { type = 'click', button = 0, stop = false } = {}) {
  const doc = win.document;
  const link = doc.createElement('a');
  if (href !== null) link.setAttribute('href', href);
  const inner = doc.createElement('span');
  inner.textContent = 'a link';
  link.append(inner);
  doc.body.append(link);
  // A page's own handler that takes the click over (as a router does).
  if (stop) link.addEventListener(type, (event) => { event.stopPropagation(); event.preventDefault(); });
  let seen = { reached: false };
  const last = (event) => {
    seen = { reached: true, prevented: event.defaultPrevented, sent: sent.length };
    event.preventDefault();
  };
  win.addEventListener(type, last);
  inner.dispatchEvent(new win.MouseEvent(type, { bubbles: true, cancelable: true, button }));
  win.removeEventListener(type, last);
  link.remove();
  return seen;
}

// Resolves on the window's next `type` event (after the tracker's own
// listener, which was added first).
const next = (win, type) => new Promise((resolve) => win.addEventListener(type, resolve, { once: true }));

// Sets what a visitor's browser says (navigator.doNotTrack has only a getter).
const says = (object, name, value) => Object.defineProperty(object, name, { value, configurable: true });

function equal(actual, expected, what) {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error((what ? what + ': ' : '') + 'got ' + a + ', expected ' + e);
}

const ENDPOINT = location.origin + '/api/event';
const events = (sent) => sent.map((s) => [s.fields.name, s.fields.props]);
const views = (sent) => sent.filter((s) => s.fields.name === 'pageview').map((s) => s.fields.url);

export const tests = {
  async 'a page view on load, with exactly the fields /api/event reads'() {
    const { win, sent } = await track();
    equal(sent.length, 1, 'beacons');
    equal(sent[0].via, 'beacon');
    equal(sent[0].url, ENDPOINT);
    equal(sent[0].fields, {
      site: 'example.com', url: win.location.href, ref: location.href, name: 'pageview', w: win.screen.width,
    });
  },

  async 'without data-site, the page host is the site; without a referrer, ref is null'() {
    const { sent } = await track({ data: { site: null }, referrer: false });
    equal(sent[0].fields.site, location.hostname);
    equal(sent[0].fields.ref, null);
  },

  async 'the collector is where the script came from, whatever its query'() {
    const { sent } = await track({ src: '/t.js?v=2' });
    equal(sent[0].url, ENDPOINT);
  },

  async 'a custom event with properties: strings, and numbers and booleans as strings'() {
    const { win, sent } = await track();
    win.beaconhouse('book_tour', {
      plan: 'pro', seats: 3, yearly: true, empty: '',
      gone: null, missing: undefined, when: new Date(0), list: ['a'], nested: { a: 'b' }, call() {},
    });
    equal(sent.length, 2, 'requests');
    equal(sent[1].via, 'beacon');
    equal(sent[1].url, ENDPOINT);
    equal(sent[1].fields, {
      site: 'example.com', url: win.location.href, ref: location.href, name: 'book_tour', w: win.screen.width,
      props: { plan: 'pro', seats: '3', yearly: 'true', empty: '' },
    });
  },

  async 'no props field unless a property is left to send'() {
    const { win, sent } = await track();
    win.beaconhouse('book_tour');
    win.beaconhouse('book_tour', {});
    win.beaconhouse('book_tour', null);
    win.beaconhouse('book_tour', { gone: null, list: [1] });
    // What the tracker's second argument once was: a URL, not properties.
    win.beaconhouse('book_tour', 'https://example.com/brochure.pdf');
    equal(sent.length, 6, 'requests');
    for (const { fields } of sent.slice(1)) {
      equal(fields, {
        site: 'example.com', url: win.location.href, ref: location.href, name: 'book_tour', w: win.screen.width,
      });
    }
  },

  async 'a click on a link to another host sends that host alone, and the link is followed'() {
    const { win, sent } = await track();
    const seen = click(win, sent, 'https://shop.elsewhere.example:8443/cart/42?coupon=SECRET#pay');
    equal(seen, { reached: true, prevented: false, sent: 2 }, 'by the time the page is left');
    equal(sent[1].via, 'beacon');
    equal(sent[1].url, ENDPOINT);
    equal(sent[1].fields, {
      site: 'example.com', url: win.location.href, ref: location.href, name: 'outbound', w: win.screen.width,
      props: { host: 'shop.elsewhere.example' },
    });
    // Plain http, and a page's handler that stops the click.
    click(win, sent, 'http://elsewhere.example/', { stop: true });
    equal(events(sent.slice(2)), [['outbound', { host: 'elsewhere.example' }]]);
  },

  async 'an outbound click goes by keepalive fetch without cookies where sendBeacon is missing'() {
    const { win, sent } = await track({ beacon: null });
    equal(click(win, sent, 'https://elsewhere.example/').prevented, false, 'prevented');
    equal(sent.map((s) => [s.via, s.fields.name]), [['fetch', 'pageview'], ['fetch', 'outbound']]);
    const { method, keepalive, credentials } = sent[1].init;
    equal({ method, keepalive, credentials }, { method: 'POST', keepalive: true, credentials: 'omit' });
  },

  async 'a middle click counts; a right click, a back button, or a click off links does not'() {
    const { win, sent } = await track();
    equal(click(win, sent, 'https://elsewhere.example/a', { type: 'auxclick', button: 1 }).prevented, false);
    click(win, sent, 'https://elsewhere.example/b', { type: 'auxclick', button: 2 });
    click(win, sent, 'https://elsewhere.example/c', { type: 'auxclick', button: 3 });
    win.document.body.dispatchEvent(new win.MouseEvent('click', { bubbles: true, cancelable: true }));
    equal(events(sent), [['pageview', undefined], ['outbound', { host: 'elsewhere.example' }]]);
  },

  async 'a link to this host, or not over http(s), is neither outbound nor a download'() {
    const { win, sent } = await track();
    for (const href of [
      '/pricing', '?tab=2', '#team', '', win.location.origin + '/about', 'mailto:someone@elsewhere.example',
      'tel:+15055550100', 'javascript:void 0', 'ftp://elsewhere.example/menu.pdf', null,
    ]) {
      equal(click(win, sent, href).prevented, false, href);
    }
    // An <a> in SVG, whose href is no URL.
    const svg = win.document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const a = win.document.createElementNS('http://www.w3.org/2000/svg', 'a');
    a.setAttribute('href', 'https://elsewhere.example/');
    svg.append(a);
    win.document.body.append(svg);
    a.addEventListener('click', (event) => event.preventDefault());
    a.dispatchEvent(new win.MouseEvent('click', { bubbles: true, cancelable: true }));
    equal(events(sent), [['pageview', undefined]]);
  },

  async 'a link to a file sends its path alone, before outbound, by the default extensions'() {
    const { win, sent } = await track();
    for (const file of ['pdf', 'zip', 'csv', 'docx', 'xlsx', 'pptx', 'txt', 'mp3', 'mp4', 'dmg', 'exe']) {
      click(win, sent, '/files/menu.' + file);
    }
    click(win, sent, '/files/Menu%20Fall.PDF?v=2#page=3');
    click(win, sent, 'https://cdn.elsewhere.example/a/brochure.zip?signature=SECRET');
    click(win, sent, '/notes.epub');
    click(win, sent, '/pdf');
    click(win, sent, 'https://elsewhere.example/notes.epub');
    equal(events(sent.slice(1)), [
      ...['pdf', 'zip', 'csv', 'docx', 'xlsx', 'pptx', 'txt', 'mp3', 'mp4', 'dmg', 'exe']
        .map((file) => ['download', { file: '/files/menu.' + file }]),
      ['download', { file: '/files/Menu%20Fall.PDF' }],
      ['download', { file: '/a/brochure.zip' }],
      ['outbound', { host: 'elsewhere.example' }],
    ]);
    equal(sent[1].fields.url, win.location.href, 'the page, not the file, is the URL');
  },

  async 'data-extensions replaces the default extensions; empty, it counts no download'() {
    const { win, sent } = await track({ data: { extensions: 'pdf, epub,tar.gz' } });
    click(win, sent, '/notes.epub');
    click(win, sent, '/menu.pdf');
    click(win, sent, '/site.tar.gz');
    click(win, sent, '/data.zip');
    click(win, sent, 'https://elsewhere.example/data.zip');
    equal(events(sent.slice(1)), [
      ['download', { file: '/notes.epub' }],
      ['download', { file: '/menu.pdf' }],
      ['download', { file: '/site.tar.gz' }],
      ['outbound', { host: 'elsewhere.example' }],
    ]);
    const none = await track({ data: { extensions: '' } });
    click(none.win, none.sent, '/menu.pdf');
    click(none.win, none.sent, '/menu.');
    click(none.win, none.sent, 'https://elsewhere.example/menu.pdf');
    equal(events(none.sent.slice(1)), [['outbound', { host: 'elsewhere.example' }]]);
  },

  async 'a 404 event after the page view with data-404, or when the page calls it'() {
    const { win, sent } = await track({ data: { 404: '' } });
    equal(sent.map((s) => [s.fields.name, s.fields.url]), [
      ['pageview', win.location.href], ['404', win.location.href],
    ]);
    const by = await track();
    by.win.beaconhouse('404');
    equal(by.sent.map((s) => s.fields.name), ['pageview', '404']);
    equal(Object.keys(by.sent[1].fields), ['site', 'url', 'ref', 'name', 'w']);
  },

  async 'a page view for each client-side navigation, Back included'() {
    const { win, sent } = await track();
    const first = win.location.href;
    win.history.pushState(null, '', '/pricing');
    equal(win.location.pathname, '/pricing', 'pushState still navigates');
    const back = next(win, 'popstate');
    win.history.back();
    await back;
    equal(sent.map((s) => [s.fields.name, s.fields.url]), [
      ['pageview', first],
      ['pageview', location.origin + '/pricing'],
      ['pageview', first],
    ]);
  },

  async 'no second page view for the URL last counted; replaceState counts none'() {
    const { win, sent } = await track();
    const origin = win.location.origin;
    const first = win.location.href;
    win.history.pushState(null, '', win.location.href);
    win.history.pushState(null, '', '/pricing');
    win.history.pushState({ again: true }, '', '/pricing');
    win.history.pushState(null, '', '/pricing?plan=pro');
    // replaceState: the page counted now has this address, and no view.
    win.history.replaceState(null, '', '/pricing?plan=team');
    equal(win.location.search, '?plan=team', 'replaceState still rewrites');
    win.history.pushState(null, '', '/pricing?plan=team');
    win.history.pushState(null, '', '/pricing?plan=pro');
    // Back to the replaced address: another URL than the last counted.
    let back = next(win, 'popstate');
    win.history.back();
    await back;
    equal(win.location.search, '?plan=team', 'back');
    equal(views(sent), [
      first, origin + '/pricing', origin + '/pricing?plan=pro', origin + '/pricing?plan=pro', origin + '/pricing?plan=team',
    ]);
    // Anchors of the page (popstate and hashchange without data-hash):
    // the fragment is not sent, and a move between them is no view.
    const moved = next(win, 'hashchange');
    win.location.hash = '#faq';
    await moved;
    back = next(win, 'popstate');
    win.history.back();
    await back;
    equal(views(sent).length, 5, 'views after anchors');
    win.beaconhouse('book_tour');
    win.location.hash = '#team';
    win.beaconhouse('after_anchor');
    equal(sent.slice(5).map((s) => s.fields.url), [origin + '/pricing?plan=team', origin + '/pricing?plan=team']);
  },

  async 'with data-hash, the fragment is the page: a view per hashchange, with h: 1'() {
    const { win, sent } = await track({ data: { hash: '' } });
    const base = win.location.href;
    const changed = next(win, 'hashchange');
    win.location.hash = '#/pricing';
    await changed;
    win.history.pushState(null, '', '#/pricing');
    win.history.pushState(null, '', '#/team');
    win.beaconhouse('book_tour', { plan: 'pro' });
    equal(sent.map((s) => s.fields), [base, base + '#/pricing', base + '#/team'].map((url) => ({
      site: 'example.com', url, ref: location.href, name: 'pageview', w: win.screen.width, h: 1,
    })).concat([{
      site: 'example.com', url: base + '#/team', ref: location.href, name: 'book_tour', w: win.screen.width,
      props: { plan: 'pro' }, h: 1,
    }]));
    const back = next(win, 'popstate');
    win.history.back();
    await back;
    equal(views(sent).slice(3), [base + '#/pricing'], 'Back');
  },

  async 'without data-hash, no fragment is sent and no h'() {
    const { win, sent } = await track({ prepare: (win) => win.history.replaceState(null, '', '/docs#install') });
    const changed = next(win, 'hashchange');
    win.location.hash = '#/pricing';
    await changed;
    win.beaconhouse('book_tour', { plan: 'pro' });
    equal(sent.map((s) => [s.fields.name, s.fields.url, 'h' in s.fields]), [
      ['pageview', win.location.origin + '/docs', false],
      ['book_tour', win.location.origin + '/docs', false],
    ]);
  },

  async 'a keepalive fetch without cookies where sendBeacon is missing or refuses'() {
    for (const beacon of [null, false]) {
      const { sent } = await track({ beacon });
      const fetched = sent.filter((s) => s.via === 'fetch');
      equal(fetched.length, 1, 'sendBeacon ' + beacon);
      equal(fetched[0].url, ENDPOINT);
      equal(fetched[0].fields.name, 'pageview');
      const { method, keepalive, credentials } = fetched[0].init;
      equal({ method, keepalive, credentials }, { method: 'POST', keepalive: true, credentials: 'omit' });
    }
  },

  async 'nothing at all under Do-Not-Track or Global Privacy Control'() {
    const settings = {
      'navigator.doNotTrack': (win) => says(win.navigator, 'doNotTrack', '1'),
      'window.doNotTrack': (win) => says(win, 'doNotTrack', '1'),
      'navigator.globalPrivacyControl': (win) => says(win.navigator, 'globalPrivacyControl', true),
    };
    for (const [name, prepare] of Object.entries(settings)) {
      const { win, sent } = await track({ prepare, data: { 404: '', hash: '', local: '' } });
      win.history.pushState(null, '', '/elsewhere');
      const changed = next(win, 'hashchange');
      win.location.hash = '#/pricing';
      await changed;
      equal(click(win, sent, 'https://elsewhere.example/').prevented, false, name + ': outbound prevented');
      click(win, sent, '/menu.pdf');
      click(win, sent, 'https://elsewhere.example/', { type: 'auxclick', button: 1 });
      equal(sent.length, 0, name + ': requests');
      equal(typeof win.beaconhouse, 'undefined', name + ': window.beaconhouse');
    }
    const { sent } = await track({ prepare: (win) => says(win.navigator, 'doNotTrack', '0') });
    equal(sent.length, 1, 'doNotTrack "0" is no request not to track');
  },

  async 'nothing from the developer\'s own machine without data-local'() {
    const local = [
      'http://localhost:3000/pricing', 'http://localhost/', 'http://app.localhost:8080/', 'http://127.0.0.1:8000/',
      'http://127.1/', 'http://127.8.9.10/', 'http://[::1]:4000/', 'file:///home/dev/site/index.html',
    ];
    for (const at of local) {
      const { win, sent } = await track({ at, data: { 404: '' } });
      win.history.pushState(null, '', '/elsewhere');
      click(win, sent, 'https://elsewhere.example/');
      click(win, sent, '/menu.pdf');
      equal(sent.length, 0, at + ': requests');
      equal(typeof win.beaconhouse, 'undefined', at + ': window.beaconhouse');
      // data-local: the same page counts (and proves the address was read).
      const counted = await track({ at, data: { local: '' } });
      equal(counted.sent.map((s) => [s.fields.name, s.fields.url]), [['pageview', new URL(at).href]], at + ' with data-local');
    }
    // Hosts that only look local.
    for (const at of ['http://localhost.example.com/', 'http://mylocalhost/', 'http://127.example/', 'http://10.0.0.1/']) {
      const { sent } = await track({ at });
      equal(sent.map((s) => s.fields.url), [at], at);
    }
  },
};
