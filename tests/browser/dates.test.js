// The dashboard's day and period functions (src/http/dashboard/assets/dates.js),
// run in Chromium by tests/browser/unit.py in two zones with daylight saving
// time (America/Denver and Europe/Berlin), so a function that used the
// browser's local date instead of the day's own would fail here.

import {
  PERIODS, addDays, bucketLabel, bucketLongLabel, intervalFor, periodRange, rangeLabel,
  rangeProblem, spanDays, todayIn, validDay,
} from '../../src/http/dashboard/assets/dates.js';

// A longest period, as /dashboard/api/me gives the page one: the functions
// take it as an argument, so what they are tested with here holds for any.
const MAX_DAYS = 732;

function equal(actual, expected, what) {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error((what ? what + ': ' : '') + 'got ' + a + ', expected ' + e);
}

export const tests = {
  'adding days crosses month ends, year ends and leap days'() {
    equal(addDays('2026-01-31', 1), '2026-02-01');
    equal(addDays('2026-04-30', 1), '2026-05-01');
    equal(addDays('2026-12-31', 1), '2027-01-01');
    equal(addDays('2027-01-01', -1), '2026-12-31');
    equal(addDays('2024-02-28', 1), '2024-02-29', 'a leap year');
    equal(addDays('2023-02-28', 1), '2023-03-01', 'a common year');
    equal(addDays('2024-03-01', -1), '2024-02-29');
    equal(addDays('2100-02-28', 1), '2100-03-01', 'a century that is not a leap year');
    equal(addDays('2000-02-28', 1), '2000-02-29', 'a century that is');
    equal(addDays('2024-01-01', 366), '2025-01-01');
    equal(addDays('2026-05-05', 0), '2026-05-05');
  },

  'a daylight saving change moves no day'() {
    // Denver springs forward on 2026-03-08 and falls back on 2026-11-01;
    // Berlin on 2026-03-29 and 2026-10-25.
    equal(addDays('2026-03-28', 1), '2026-03-29');
    equal(addDays('2026-03-29', 1), '2026-03-30');
    equal(addDays('2026-10-26', -1), '2026-10-25');
    equal(addDays('2026-10-25', -1), '2026-10-24');
    equal(addDays('2026-03-07', 1), '2026-03-08');
    equal(addDays('2026-03-08', 1), '2026-03-09');
    equal(addDays('2026-10-31', 1), '2026-11-01');
    equal(addDays('2026-11-01', 1), '2026-11-02');
    equal(addDays('2026-11-02', -2), '2026-10-31');
    equal(spanDays('2026-03-01', '2026-03-31'), 31, 'March, with its 23-hour day');
    equal(spanDays('2026-10-01', '2026-10-31'), 31, "Berlin's October, with its 25-hour day");
    equal(spanDays('2026-11-01', '2026-11-30'), 30, 'November, with its 25-hour day');
    equal(spanDays('2026-01-01', '2026-12-31'), 365);
  },

  'a span counts both ends'() {
    equal(spanDays('2026-05-05', '2026-05-05'), 1);
    equal(spanDays('2026-05-05', '2026-05-06'), 2);
    equal(spanDays('2024-02-01', '2024-02-29'), 29);
    equal(spanDays('2024-01-01', '2024-12-31'), 366);
    equal(spanDays('2024-01-01', '2026-01-01'), MAX_DAYS);
  },

  'only days of the calendar, written YYYY-MM-DD, are days'() {
    for (const day of ['2024-02-29', '2026-01-01', '2026-12-31', '1999-06-30']) equal(validDay(day), true, day);
    for (const day of ['2023-02-29', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00', '2026-1-01',
      '26-01-01', '2026-01-01T00:00', ' 2026-01-01', '2026/01/01', '', null, undefined]) {
      equal(validDay(day), false, String(day));
    }
  },

  'a custom range is refused as the form says, up to the longest period'() {
    equal(rangeProblem('2026-11-01', '2026-11-30', MAX_DAYS), null);
    equal(rangeProblem('2026-11-01', '2026-11-01', MAX_DAYS), null, 'one day');
    equal(rangeProblem('', '2026-11-30', MAX_DAYS), 'Enter both dates.');
    equal(rangeProblem('2026-11-01', null, MAX_DAYS), 'Enter both dates.');
    equal(rangeProblem('2026-02-29', '2026-03-31', MAX_DAYS), 'Enter both dates.', 'no such day');
    equal(rangeProblem('2026-11-30', '2026-11-01', MAX_DAYS), 'The first day must not be after the last.');
    const from = '2024-02-29';
    const last = addDays(from, MAX_DAYS - 1);
    equal(spanDays(from, last), MAX_DAYS);
    equal(rangeProblem(from, last, MAX_DAYS), null, 'the longest period');
    equal(rangeProblem(from, addDays(last, 1), MAX_DAYS), 'A period covers at most 732 days.', 'a day longer');
    equal(rangeProblem(from, addDays(from, 9), 10), null, "the server's limit, whatever it is");
    equal(rangeProblem(from, addDays(from, 10), 10), 'A period covers at most 10 days.');
  },

  "today is the site's date, not the browser's"() {
    // 06:30 UTC on 2026-03-08 is still the 7th in Denver, already evening in Kiritimati.
    const now = new Date('2026-03-08T06:30:00Z');
    equal(todayIn('UTC', now), '2026-03-08');
    equal(todayIn('America/Denver', now), '2026-03-07');
    equal(todayIn('Pacific/Kiritimati', now), '2026-03-08');
    equal(todayIn('Pacific/Pago_Pago', now), '2026-03-07');
    equal(todayIn('America/Denver', new Date('2026-01-01T03:00:00Z')), '2025-12-31', 'the year before');
    equal(todayIn('Asia/Tokyo', new Date('2025-12-31T15:00:00Z')), '2026-01-01', 'the year after');
    equal(todayIn('Nowhere/Atall', now), '2026-03-08', "an unknown zone: UTC's date");
  },

  'each preset covers the days it names'() {
    const at = (period, today) => periodRange({ period }, today);
    const today = '2024-03-31';
    equal(at('today', today), [today, today]);
    equal(at('yesterday', today), ['2024-03-30', '2024-03-30']);
    equal(at('7d', today), ['2024-03-25', today]);
    equal(at('30d', today), ['2024-03-02', today]);
    equal(at('month', today), ['2024-03-01', today]);
    equal(at('last-month', today), ['2024-02-01', '2024-02-29'], 'a leap February');
    equal(at('12mo', today), ['2023-04-01', today]);
    equal(at('last-month', '2026-01-15'), ['2025-12-01', '2025-12-31'], 'in January');
    equal(at('12mo', '2026-01-15'), ['2025-02-01', '2026-01-15']);
    equal(at('yesterday', '2026-01-01'), ['2025-12-31', '2025-12-31']);
    equal(at('month', '2026-05-01'), ['2026-05-01', '2026-05-01'], 'on the first');
    equal(at('last-month', '2026-03-31'), ['2026-02-01', '2026-02-28']);
    equal(at('no-such-period', today), at('30d', today), 'the default');
    equal(periodRange({ period: 'custom', from: '2025-01-01', to: '2025-06-30' }, today), ['2025-01-01', '2025-06-30']);
  },

  'every preset is a range the API takes, whatever the day'() {
    const days = ['2024-02-29', '2024-03-01', '2025-12-31', '2026-01-01', '2026-03-08', '2026-07-31'];
    for (const period of Object.keys(PERIODS).filter((p) => p !== 'custom')) {
      for (const today of days) {
        const [from, to] = periodRange({ period }, today);
        const what = period + ' on ' + today;
        equal(rangeProblem(from, to, MAX_DAYS), null, what);
        equal(to <= today, true, what + ' ends by today');
      }
    }
    equal(spanDays(...periodRange({ period: '7d' }, '2026-03-08')), 7);
    equal(spanDays(...periodRange({ period: '30d' }, '2026-03-08')), 30);
  },

  'the chart has hours for a day, then days, weeks, months'() {
    const span = (days) => intervalFor('2026-01-01', addDays('2026-01-01', days - 1));
    equal(span(1), 'hour');
    equal(span(2), 'day');
    equal(span(60), 'day');
    equal(span(61), 'week');
    equal(span(180), 'week');
    equal(span(181), 'month');
    equal(span(MAX_DAYS), 'month');
  },

  'ranges and buckets read as dates in English'() {
    equal(rangeLabel('2026-03-08', '2026-03-08'), 'Mar 8, 2026');
    equal(rangeLabel('2026-03-01', '2026-03-31'), 'Mar 1 – Mar 31, 2026');
    equal(rangeLabel('2025-12-01', '2026-01-31'), 'Dec 1, 2025 – Jan 31, 2026');
    equal(bucketLabel('2026-11-01 13:00', 'hour'), '13:00');
    equal(bucketLabel('2026-11-01', 'day'), 'Nov 1');
    equal(bucketLabel('2026-10-26', 'week'), 'Oct 26');
    equal(bucketLabel('2026-11-01', 'month'), 'Nov 2026');
    equal(bucketLongLabel('2026-11-01 13:00', 'hour'), 'Nov 1, 2026 13:00');
    equal(bucketLongLabel('2026-11-01', 'day'), 'Nov 1, 2026');
    equal(bucketLongLabel('2026-10-26', 'week'), 'Week of Oct 26, 2026');
    equal(bucketLongLabel('2026-11-01', 'month'), 'Nov 2026');
  },
};
