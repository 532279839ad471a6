// The tracker, served as /t.js: the readable source. Visitors download
// tracker.min.js, made from this file by tools/tracker (terser, pinned in
// its package-lock.json); tests/it/tracker.rs fails when the two disagree
// and when the served file reaches 1.5 KiB.
//
// On the site's pages as
//   <script defer src="https://stats.example/t.js" data-site="example.com"></script>
// it sends one page view on load and one per client-side navigation, and
// `window.beaconhouse(name)` sends a custom event. It sets no cookie and
// stores nothing in the browser.
//
// Plain ES5 (var, function): it runs on every visitor's browser.
(function () {
  var script = document.currentScript;
  // Null where the browser cannot say which script this is (an old one, or
  // the file loaded as a module): then there is no telling where to send.
  if (!script) return;
  var nav = navigator;
  // The collector is where this file came from: /t.js?v=2 becomes /api/event.
  var endpoint = script.src.replace(/\/t\.js(\?.*)?$/, '/api/event');
  var site = script.getAttribute('data-site') || location.hostname;

  // A visitor who asks not to be tracked (Do-Not-Track, Global Privacy
  // Control) is not: nothing is sent, and no function is left to call.
  if (nav.doNotTrack == '1' || window.doNotTrack == '1' || nav.globalPrivacyControl) return;

  // Sends one event: `name` defaults to a page view, `url` to this page.
  function send(name, url) {
    // The fields POST /api/event reads; `w` (the screen's width) is how the
    // collector tells a phone from a desktop when the user agent does not say.
    var body = JSON.stringify({
      site: site,
      url: url || location.href,
      ref: document.referrer || null,
      name: name || 'pageview',
      w: screen.width
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
})();
