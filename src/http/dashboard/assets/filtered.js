// Filtered traffic on the overview: how many of the site's hits the
// collector answered and did not count in the period, and why (bots by
// kind, referrer spam, data-centre networks, hits from elsewhere, ...).
// Every figure is the filtered report's, in the order it lists them; the
// page only names each reason in plain words and folds the reasons with
// none into one line.

import { statsUrl } from './api.js';
import { $, h, fmt, busy, card, csvLink, errorBox, fileSafe, loadingText } from './dom.js';
import { app, periodPairs, track, setNotes } from './view.js';

// What each reason (and, for bots, each kind) is called on screen, by the
// report's `reason:kind`.
const REASON_LABEL = {
  'bot:crawler': 'Bots: search and SEO crawlers, feed readers, link previews',
  'bot:library': 'Bots: HTTP libraries and scripts',
  'bot:headless': 'Bots: headless browsers',
  'bot:monitor': 'Bots: uptime and performance monitors',
  'bot:no_user_agent': 'Bots: no user agent at all',
  'referrer_spam:': 'Referrer spam',
  'datacenter:': 'From data-centre networks',
  'unknown_site:': 'Copied snippet or other host',
  'unverified:': 'Could not show it came from the site',
  'invalid:': 'Malformed',
  'rate_limited:': 'Over the rate limit',
};

// A reason the page does not know yet reads as the report names it.
function reasonLabel(r) {
  return REASON_LABEL[r.reason + ':' + r.kind] || (r.kind ? r.reason + ': ' + r.kind : r.reason);
}

export function filteredCard() {
  return card('filtered', 'Filtered traffic',
    h('p', { class: 'filtered-total', id: 'filtered-total' }),
    h('div', { class: 'panel-body', id: 'filtered-body' }, loadingText()),
    h('p', { class: 'caption', id: 'filtered-caption' }),
    h('div', { class: 'panel-foot' }, h('span', { id: 'filtered-csv' })));
}

// The report takes the site and the period only: filters are of counted
// hits, and these were never counted.
export function loadFiltered() {
  const el = document.querySelector('[data-panel="filtered"]');
  busy(el, true);
  const pairs = [['site', app.nav.site]].concat(periodPairs());
  const p = app.period;
  $('filtered-csv').replaceChildren(csvLink(statsUrl('filtered', pairs.concat([['format', 'csv']])),
    fileSafe(app.nav.site + '-filtered-' + p.from + '-' + p.to) + '.csv'));
  track('filtered', 'filtered', pairs, (data) => {
    busy(el, false);
    setNotes('filtered', data.notes);
    $('filtered-total').replaceChildren(h('span', { class: 'filtered-figure', data: { cell: 'total' } }, fmt(data.total)),
      data.total === 1 ? ' hit was not counted in this period.' : ' hits were not counted in this period.');
    $('filtered-body').replaceChildren(...[].concat(reasonsTable(data.reasons || [])));
    $('filtered-caption').textContent = caption(data);
  }, (e) => {
    busy(el, false);
    $('filtered-total').replaceChildren();
    $('filtered-body').replaceChildren(errorBox(e.message, loadFiltered));
    $('filtered-caption').textContent = '';
  });
}

// The reasons with hits as rows, each with a bar as long as its share of
// the largest; the reasons released as 0 in one line below (a 0, like
// every count, carries noise: it says what was released, not that there
// were none).
function reasonsTable(reasons) {
  const some = reasons.filter((r) => r.hits > 0);
  const none = reasons.filter((r) => !(r.hits > 0));
  const most = Math.max(0, ...some.map((r) => r.hits));
  const parts = [];
  if (some.length) {
    const body = h('tbody');
    for (const r of some) {
      const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
      bar.style.width = (most > 0 ? 100 * r.hits / most : 0) + '%';
      body.append(h('tr', { data: { reason: r.reason + ':' + r.kind } },
        h('th', { scope: 'row', class: 'cell-value' }, bar, h('span', { class: 'value', title: reasonLabel(r) }, reasonLabel(r))),
        h('td', { class: 'num', data: { cell: 'hits' } }, fmt(r.hits))));
    }
    parts.push(h('div', { class: 'table-scroll' }, h('table', { class: 'data rows filtered' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Why it was not counted'),
        h('th', { scope: 'col', class: 'num' }, 'Hits'))),
      body)));
  } else {
    parts.push(h('p', { class: 'placeholder' }, 'No hit of this site was filtered out in this period.'));
  }
  if (none.length) {
    parts.push(h('p', { class: 'fineprint', id: 'filtered-none' }, '0 in this period: ',
      none.map((r, i) => [i ? ', ' : '', h('span', { data: { none: r.reason + ':' + r.kind } }, reasonLabel(r))]), '.'));
  }
  return parts;
}

// What the figures are, and are not: opt-outs are nowhere, every count
// carries noise, and the view's filters do not apply.
function caption(data) {
  const margin = data.margins ? data.margins.count : null;
  return 'Hits the collector answered but did not count, so that the other figures are of people. ' +
    'Requests sent with Do-Not-Track or Global Privacy Control are not here: they are counted nowhere. ' +
    'Each count carries noise, as every figure does' +
    (margin == null ? '.' : ': most are within ' + fmt(margin) + ' hits of the exact count.') +
    ' The total is a figure of its own, so the rows need not add up to it.' +
    (app.nav.filters.length ? ' Filters do not apply here: these hits were never counted.' : '');
}
