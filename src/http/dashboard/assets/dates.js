// Days and periods: which days a preset period covers where the site is,
// whether a custom range is one the API takes, how a series is bucketed,
// and how days and buckets read. A day is its `YYYY-MM-DD` text, computed
// at midnight UTC, so no daylight saving change moves one.
// Pure functions, no DOM and no page state: tests/browser/dates.test.js
// runs them in Chromium.

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86400000;

const toDate = (day) => new Date(day + 'T00:00:00Z');
const isoDay = (date) => date.toISOString().slice(0, 10);

export function addDays(day, n) {
  const date = toDate(day);
  date.setUTCDate(date.getUTCDate() + n);
  return isoDay(date);
}

// Days from `from` to `to`, both included.
export const spanDays = (from, to) => Math.round((toDate(to) - toDate(from)) / DAY_MS) + 1;

// Whether `text` is a day of the calendar (no 2025-02-29).
export function validDay(text) {
  if (!DAY_RE.test(text || '')) return false;
  const date = toDate(text);
  return !isNaN(date) && isoDay(date) === text;
}

// What is wrong with a custom range the API would refuse, as the form says
// it; null for a good one. `maxDays` is the server's longest period.
export function rangeProblem(from, to, maxDays) {
  if (!validDay(from) || !validDay(to)) return 'Enter both dates.';
  if (from > to) return 'The first day must not be after the last.';
  if (spanDays(from, to) > maxDays) return 'A period covers at most ' + maxDays + ' days.';
  return null;
}

// The date at `now` where the site is: the period's days are the site's
// days. An unknown zone falls back to UTC's date.
export function todayIn(timeZone, now = new Date()) {
  try {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
    }).formatToParts(now);
    const part = (type) => parts.find((p) => p.type === type).value;
    return part('year') + '-' + part('month') + '-' + part('day');
  } catch (e) {
    return isoDay(now);
  }
}

// The periods the picker offers, as it names them; the keys are the URL's.
export const PERIODS = {
  today: 'Today', yesterday: 'Yesterday', '7d': 'Last 7 days', '30d': 'Last 30 days',
  month: 'This month', 'last-month': 'Last month', '12mo': 'Last 12 months', custom: 'Custom range',
};

// The first and last day of `nav.period` when the site's date is `today`;
// a custom period is `nav.from` to `nav.to` as they are.
export function periodRange(nav, today) {
  if (nav.period === 'custom') return [nav.from, nav.to];
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

// The chart's buckets for a period: hours for one day, then days, weeks or
// months, so a chart has tens of points, not hundreds.
export function intervalFor(from, to) {
  const days = spanDays(from, to);
  if (days <= 1) return 'hour';
  if (days <= 60) return 'day';
  if (days <= 180) return 'week';
  return 'month';
}

const DATE_FMT = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric' });
const DATE_FMT_Y = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric', year: 'numeric' });
const MONTH_FMT = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', year: 'numeric' });

// `Nov 1 – Nov 30, 2026`; the year once when both days share it.
export function rangeLabel(from, to) {
  if (from === to) return DATE_FMT_Y.format(toDate(from));
  const sameYear = from.slice(0, 4) === to.slice(0, 4);
  return (sameYear ? DATE_FMT : DATE_FMT_Y).format(toDate(from)) + ' – ' + DATE_FMT_Y.format(toDate(to));
}

// A bucket (a local day, `2026-11-01`, or hour, `2026-11-01 13:00`) under
// the chart.
export function bucketLabel(bucket, interval) {
  if (interval === 'hour') return bucket.slice(11, 16);
  if (interval === 'month') return MONTH_FMT.format(toDate(bucket.slice(0, 10)));
  return DATE_FMT.format(toDate(bucket.slice(0, 10)));
}

// A bucket in the chart's table and read-out, where it stands alone.
export function bucketLongLabel(bucket, interval) {
  if (interval === 'hour') return DATE_FMT_Y.format(toDate(bucket.slice(0, 10))) + ' ' + bucket.slice(11, 16);
  if (interval === 'month') return MONTH_FMT.format(toDate(bucket.slice(0, 10)));
  if (interval === 'week') return 'Week of ' + DATE_FMT_Y.format(toDate(bucket.slice(0, 10)));
  return DATE_FMT_Y.format(toDate(bucket.slice(0, 10)));
}
