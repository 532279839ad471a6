// The served tracker (src/http/tracker.min.js, /t.js), run in Chromium by
// tests/browser/unit.py: what it sends, where, and when it sends nothing.
// Each test loads it into a fresh frame of its own, as a site's page would
// (unit.py serves it at /t.js, so it finds its collector from its own URL).

let frames = 0;

// A frame with the tracker loaded into it: `prepare(win)` runs first (the
// visitor's browser settings, the page's address); every beacon and fetch
// it makes is recorded in `sent`, and `beacon` says what sendBeacon answers
// (null: it has none). `data` holds the script tag's data- attributes
// (`site` among them; null for none).
async function track({ src = '/t.js', data = {}, prepare = () => {}, beacon = true, referrer = true } = {}) {
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
  script.src = src;
  await new Promise((resolve, reject) => {
    script.onload = resolve;
    script.onerror = () => reject(new Error('the tracker did not load from ' + src));
    win.document.head.append(script);
  });
  return { win, sent };
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
      const { win, sent } = await track({ prepare, data: { 404: '', hash: '' } });
      win.history.pushState(null, '', '/elsewhere');
      const changed = next(win, 'hashchange');
      win.location.hash = '#/pricing';
      await changed;
      equal(sent.length, 0, name + ': requests');
      equal(typeof win.beaconhouse, 'undefined', name + ': window.beaconhouse');
    }
    const { sent } = await track({ prepare: (win) => says(win.navigator, 'doNotTrack', '0') });
    equal(sent.length, 1, 'doNotTrack "0" is no request not to track');
  },
};
