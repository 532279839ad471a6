// Building the page: elements, numbers as they read, and the small pieces
// every view uses (cards, placeholders, errors, CSV links). Holds no page
// state. Text reaches the page through textContent, never as markup.

export const $ = (id) => document.getElementById(id);

// An element with `props` (`class`, `text`, `data`, `on<event>`, or an
// attribute) and children (nodes, text, nested arrays; null is skipped).
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, kids);
  return el;
}

export function svg(tag, props, ...kids) {
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

export const fmt = (n) => (n == null ? '—' : n.toLocaleString('en-US'));

export function fmtPercent(n) {
  return n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + '%';
}

export function signed(n, digits) {
  const text = Math.abs(n).toLocaleString('en-US', { maximumFractionDigits: digits });
  return (n > 0 ? '+' : n < 0 ? '−' : '±') + text;
}

export function announce(text) {
  const status = $('status');
  status.textContent = '';
  // A fresh text node after a tick makes screen readers read it again.
  setTimeout(() => { status.textContent = text; }, 50);
}

// What body[data-state] says: signed-out, loading, ready or error.
export function setState(state) {
  document.body.dataset.state = state;
}

let uid = 0;
export const nextId = (prefix) => prefix + '-' + (++uid);

export function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return '';
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

export function card(panel, titleText, ...kids) {
  const id = nextId('h');
  return h('section', { class: 'card', data: { panel }, 'aria-labelledby': id },
    h('h2', { id, class: 'card-title', tabindex: '-1' }, titleText), kids);
}

export function loadingText() {
  return h('p', { class: 'placeholder' }, 'Loading…');
}

export function errorBox(message, retry) {
  return h('div', { class: 'panel-error' },
    h('p', null, h('strong', null, 'Could not load this report: '), sentence(message)),
    retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
}

export function busy(el, on) {
  el.classList.toggle('is-loading', on);
  if (on) el.setAttribute('aria-busy', 'true');
  else el.removeAttribute('aria-busy');
}

export function csvLink(href, filename, text) {
  return h('a', { class: 'csv', href, download: filename, data: { csv: '' } },
    h('span', { class: 'csv-icon', 'aria-hidden': 'true' }), text || 'Download CSV');
}

// The credit the GeoIP database's licence asks for where locations are
// shown (`locations_attribution` of /dashboard/api/me: its words, as a
// link), or null when it asks none. Only an https link is made.
export function attributionLine(attribution) {
  if (!attribution || !attribution.text || !/^https:\/\//.test(attribution.href || '')) return null;
  return h('p', { class: 'fineprint attribution', data: { attribution: '' } },
    h('a', { href: attribution.href, rel: 'noopener noreferrer', target: '_blank' }, attribution.text));
}

export const fileSafe = (text) => String(text).replace(/[^A-Za-z0-9._-]+/g, '_');

// A row's share of the total's uniques as a bar behind its value; the
// width is set through the CSSOM, which the CSP allows.
function shareBar(share) {
  const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
  bar.style.width = Math.max(0, Math.min(100, share || 0)) + '%';
  return bar;
}

let regionNames = null;
try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (e) { regionNames = null; }

// A grouped report's rows (by `dim`) as a tbody, and whether `(other)`
// folded some: each row's value over its share bar (a country's code beside
// its name), then its people, its count and its share. A value reads as
// What the page says of a withheld figure: how small it was is not said,
// and the threshold depends on the period, so no number either.
export const TOO_FEW_VISITORS = 'too few visitors to show';
export const TOO_FEW_RECIPIENTS = 'too few recipients to show';
export const OTHER_TEXT = '(other): everything the total holds beyond the rows shown (groups too small to show, and rows past the limit); its visitors are not added up, as one person may be in several groups.';

// The one sentence that says figures are rounded by design, and how much,
// from a report's `margins` (95% of the noise lies within them).
export function roundingText(margins, people, counts) {
  if (!margins) return '';
  return 'Figures are rounded by design, so that none gives a person away: most are within ' +
    fmt(margins.people) + ' ' + (people || 'visitors') + ' and ' + fmt(margins.count) + ' ' +
    (counts || 'page views') + ' of the exact count.';
}

// Whether a grouped report has nothing to show: no row but (other), and
// (other) counts nothing.
export function nothingToShow(rows) {
  return rows.every((row) => row.value === '(other)' && !row.count);
}

// text, or as what `pick(row, shown)` makes of it (the panels' filter
// buttons); `(other)` is always text.
export function groupRows(dim, rows, pick) {
  const body = h('tbody');
  let folded = false;
  for (const row of rows) {
    const other = row.value === '(other)';
    folded = folded || other;
    const shown = displayValue(dim, row.value);
    const label = other || !pick
      ? h('span', { class: 'value' + (other ? ' other' : '') }, other ? '(other)' : shown)
      : pick(row, shown);
    body.append(h('tr', { data: { row: '', value: row.value } },
      h('th', { scope: 'row', class: 'cell-value' }, shareBar(row.share), label,
        dim === 'country' && row.value !== shown && /^[A-Z]{2}$/.test(row.value) ? h('span', { class: 'code' }, row.value) : null),
      h('td', { class: 'num', data: { cell: 'unique' } }, fmt(row.unique)),
      h('td', { class: 'num', data: { cell: 'count' } }, fmt(row.count)),
      h('td', { class: 'num share-col muted' }, row.share == null ? '—' : fmtPercent(row.share))));
  }
  return { body, folded };
}

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
