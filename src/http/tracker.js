// The tracker, served as /t.js: the readable source. Visitors download
// tracker.min.js, made from this file by tools/tracker (terser, pinned in
// its package-lock.json); tests/it/tracker.rs fails when the two disagree
// and when the served file reaches 1.5 KiB.
//
// On the site's pages as
//   <script defer src="https://stats.example/t.js" data-site="example.com"></script>
// it sends one page view on load and one per client-side navigation to
// another URL; `window.beaconhouse(name, props)` sends a custom event; a
// click on a link to another host sends `outbound`, on a link to a file
// `download`. It sets no cookie and stores nothing in the browser.
//
// Attributes of the script tag, each optional:
//   data-site       the site, as the collector knows it (else the page's host)
//   data-extensions the file extensions a download ends with, comma-separated
//                   ("pdf,epub"), in place of the list below; "" for none
//   data-404        the page is a "not found" page: a `404` event on load
//   data-hash       the fragment names the page (#/pricing): it is part of
//                   the URL sent, with `h: 1`, and each hashchange is a view
//   data-local      send from localhost, 127.x.x.x, [::1] and file: pages too
//
// Plain ES5 (var, function): it runs on every visitor's browser. It reads
// the page's address only through the name `location` (the tests lend it
// another one to play a page on localhost).
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
  // Nor is the site's developer, on a page of their own machine: localhost
  // and its subdomains, 127.0.0.0/8, [::1] (browsers write the host of
  // http://127.1/ as 127.0.0.1), and a file opened from disk. As under
  // Do-Not-Track, no function is left to call, so a site that calls
  // beaconhouse() unguarded fails on the developer's machine, not on a
  // visitor's. data-local counts them, to try the tracker out.
  var local = /(^|\.)localhost$|^127(\.\d+){3}$|^\[::1\]$/.test(place.hostname) || place.protocol == 'file:';
  if (local && !('local' in data)) return;

  // The collector is where this file came from: /t.js?v=2 becomes /api/event.
  var endpoint = script.src.replace(/\/t\.js(\?.*)?$/, '/api/event');
  var site = data.site || place.hostname;
  // 1 or undefined, as the body's `h` (JSON leaves out what is undefined).
  var hash = 'hash' in data ? 1 : undefined;
  var extensions = 'extensions' in data ? data.extensions : 'pdf,zip,csv,docx,xlsx,pptx,txt,mp3,mp4,dmg,exe';
  // "pdf, epub" becomes /\.(pdf|epub)$/i (the dot of "tar.gz" matches any
  // character there, which is close enough).
  var download = RegExp('\\.(' + extensions.replace(/[\s,]+/g, '|') + ')$', 'i');

  // This page's URL as sent and as counted: without its fragment (an
  // anchor within the page, or something private such as a token), unless
  // the site says the fragment names the page.
  function here() {
    return hash ? place.href : place.href.split('#')[0];
  }

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
    // say; `h: 1` says the URL's fragment names the page. JSON leaves out
    // the fields that are undefined.
    var body = JSON.stringify({
      site: site,
      url: here(),
      ref: document.referrer || null,
      name: name || 'pageview',
      w: screen.width,
      props: any ? kept : undefined,
      h: hash
    });
    // sendBeacon survives the page being closed, or left by the link just
    // clicked; where it is missing or refuses the body, a keepalive fetch
    // without cookies does the same.
    if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) {
      fetch(endpoint, { method: 'POST', body: body, keepalive: true, credentials: 'omit' });
    }
  }

  window.beaconhouse = send;

  // Page views. One per URL in a row: a navigation to the URL last counted
  // (pushState to the same address, a Back that only moves between anchors
  // of the page, a hash change the site does not count) sends nothing.
  // pushState and popstate (Back, Forward) count when the URL differs from
  // the last one counted; so does hashchange, with data-hash. replaceState
  // never counts: it rewrites the address of the page already counted (a
  // redirect, a canonical form, the state of a filter), so the new address
  // becomes the last one counted without a view of its own.
  var last;
  function view() {
    var url = here();
    if (url != last) {
      last = url;
      send();
    }
  }
  function after(method, then) {
    var original = history[method];
    history[method] = function () {
      original.apply(this, arguments);
      then();
    };
  }
  after('pushState', view);
  after('replaceState', function () {
    last = here();
  });
  addEventListener('popstate', view);
  if (hash) addEventListener('hashchange', view);

  // Link clicks: the left button (`click`, also Enter on a link) and the
  // middle one (`auxclick`, button 1; not the right one, which opens a
  // menu). Seen by the window in the capture phase, before any handler of
  // the page can stop them, and never prevented: the beacon goes as the
  // browser follows the link. A link to a file sends its path (no host,
  // query or fragment); else a link to another host sends that host alone
  // (no path or query).
  function click(event) {
    if (event.button > 1) return;
    // The nearest <a> around what was clicked, as closest('a') (ES5 has no
    // closest); an <a> in SVG has a lowercase name and no protocol.
    var link = event.target;
    while (link && link.nodeName != 'A') link = link.parentNode;
    if (!link || !/^https?:$/.test(link.protocol)) return;
    if (extensions && download.test(link.pathname)) send('download', { file: link.pathname });
    else if (link.host != place.host) send('outbound', { host: link.hostname });
  }
  addEventListener('click', click, true);
  addEventListener('auxclick', click, true);

  view();
  if ('404' in data) send('404');
})();
