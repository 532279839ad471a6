// The dashboard's requests (src/http/dashboard/assets/api.js), run in
// Chromium by tests/browser/unit.py with `fetch` answered here: a busy
// report is asked again after its Retry-After, a bounded number of times;
// an abort stops the waiting; what the page shows is plain words, and the
// server's own message, which may name configuration keys, stays in the
// error's detail.

import { request, isAbort } from '../../src/http/dashboard/assets/api.js';

function equal(actual, expected, what) {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error((what ? what + ': ' : '') + 'got ' + a + ', expected ' + e);
}

const BUSY = 'the reports are busy: `reporting.queue_timeout_ms`';

// Answers fetch with `answers` in turn (the last one again when they run
// out); returns the list of URLs asked for.
function answering(answers) {
  const asked = [];
  globalThis.fetch = async (url, init) => {
    if (init.signal && init.signal.aborted) throw new DOMException('aborted', 'AbortError');
    asked.push(url);
    const [status, body, headers] = answers[Math.min(asked.length - 1, answers.length - 1)];
    return new Response(JSON.stringify(body), { status, headers: Object.assign({ 'Content-Type': 'application/json' }, headers) });
  };
  return asked;
}

async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('the request was answered');
}

export const tests = {
  async 'a busy report is asked again after its Retry-After, and then answered'() {
    const asked = answering([
      [503, { error: BUSY }, { 'Retry-After': '0' }],
      [503, { error: BUSY }, { 'Retry-After': '0' }],
      [200, { ok: true }],
    ]);
    equal(await request('GET', '/dashboard/api/stats/summary'), { ok: true });
    equal(asked.length, 3, 'requests');
  },

  async 'a report still busy after three more tries says so in plain words'() {
    const asked = answering([[503, { error: BUSY }, { 'Retry-After': '0' }]]);
    const e = await refusal(request('GET', '/dashboard/api/stats/summary'));
    equal(asked.length, 4, 'requests');
    equal(e.status, 503);
    equal(e.detail, BUSY, 'the server\'s words, kept');
    equal(e.message.includes('`') || e.message.includes('reporting.'), false, 'a configuration key on screen: ' + e.message);
    equal(e.message.includes('Try again in a moment'), true, e.message);
  },

  async 'a report stopped at its limit is not asked again and names no key'() {
    const asked = answering([[503, { error: 'the report took longer than `reporting.query_timeout_ms` allows' }]]);
    const e = await refusal(request('GET', '/dashboard/api/stats/summary'));
    equal(asked.length, 1, 'requests');
    equal(e.message.includes('reporting.'), false, e.message);
    equal(e.message.includes('shorter period'), true, e.message);
  },

  async 'a request replaced while it waits to be asked again stops'() {
    const asked = answering([[503, { error: BUSY }, { 'Retry-After': '1' }], [200, { ok: true }]]);
    const controller = new AbortController();
    const pending = request('GET', '/dashboard/api/stats/summary', undefined, controller.signal);
    setTimeout(() => controller.abort(), 50);
    const e = await refusal(pending);
    equal(isAbort(e), true, 'an AbortError: ' + e);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    equal(asked.length, 1, 'requests after the abort');
  },

  async 'a request the person can change keeps the server\'s words, and a sign-in is never repeated'() {
    answering([[400, { error: '`tz` is "Mars/Olympus", which ClickHouse does not know' }]]);
    const e = await refusal(request('GET', '/dashboard/api/stats/summary'));
    equal(e.message, '`tz` is "Mars/Olympus", which ClickHouse does not know');
    const asked = answering([[503, { error: BUSY }, { 'Retry-After': '0' }]]);
    await refusal(request('POST', '/dashboard/session', { token: 'x' }));
    equal(asked.length, 1, 'sign-in requests');
  },
};
