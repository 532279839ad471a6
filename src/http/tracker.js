// The tracker, served as /t.js: the readable source. Visitors download
// tracker.min.js, made from this file by tools/tracker (terser, pinned in
// its package-lock.json); tests/it/tracker.rs fails when the two disagree
// and when the served file reaches 1.5 KiB.
//
// On the site's pages as
//   <script defer src="https://stats.example/t.js" data-site="example.com"></script>
// it sends one page view on load and one per client-side navigation, and
// `window.beaconhouse(name, props)` sends a custom event. It sets no cookie
// and stores nothing in the browser.
//
// Attributes of the script tag, each optional:
//   data-site       the site, as the collector knows it (else the page's host)
//   data-404        the page is a "not found" page: a `404` event on load
//
// Plain ES5 (var, function): it runs on every visitor's browser.
(function () {
  var script = document.currentScript;
  // Null where the browser cannot say which script this is (an old one, or
  // the file loaded as a module): then there is no telling where to send.
  if (!script) return;
  var nav = navigator;
  var place = location;
  // The script tag's data- attributes: `name in data` when there at all.
  var data = script.dataset;

  // A visitor who asks not to be tracked (Do-Not-Track, Global Privacy
  // Control) is not: nothing is sent, and no function is left to call.
  if (nav.doNotTrack == '1' || window.doNotTrack == '1' || nav.globalPrivacyControl) return;

  // The collector is where this file came from: /t.js?v=2 becomes /api/event.
  var endpoint = script.src.replace(/\/t\.js(\?.*)?$/, '/api/event');
  var site = data.site || place.hostname;

  // Sends one event, and is window.beaconhouse(name, props): `name`
  // defaults to a page view. Of `props`, only string, number and boolean
  // values are sent, all as strings; no `props` at all when none is left.
  // The collector enforces the limits (keys, lengths, the site's allowlist).
  function send(name, props) {
    var kept = {};
    var any;
    // Not a string's characters (an old call gave a URL here).
    if (typeof props == 'object') {
      for (var key in props) {
        var value = props[key];
        if (/^(string|number|boolean)$/.test(typeof value)) {
          kept[key] = String(value);
          any = 1;
        }
      }
    }
    // The fields POST /api/event reads; `w` (the screen's width) is how the
    // collector tells a phone from a desktop when the user agent does not
    // say. JSON leaves out the fields that are undefined.
    var body = JSON.stringify({
      site: site,
      url: place.href,
      ref: document.referrer || null,
      name: name || 'pageview',
      w: screen.width,
      props: any ? kept : undefined
    });
    // sendBeacon survives the page being closed; where it is missing or
    // refuses the body, a keepalive fetch without cookies does the same.
    if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) {
      fetch(endpoint, { method: 'POST', body: body, keepalive: true, credentials: 'omit' });
    }
  }

  window.beaconhouse = send;

  // Client-side navigation: a page view for each pushState and each Back
  // or Forward (no arguments: the popstate event is not an event name).
  var pushState = history.pushState;
  history.pushState = function () {
    pushState.apply(this, arguments);
    send();
  };
  addEventListener('popstate', function () {
    send();
  });

  send();
  if ('404' in data) send('404');
})();
