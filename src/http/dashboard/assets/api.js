// Talking to the server: /dashboard/api/* and /dashboard/session on the same
// origin, with the session cookie. A refusal becomes an ApiError: its
// message is for the person at the screen, in plain words; its detail is the
// server's own message, which may name the operator's configuration (the
// server logs it too). A report the server is too busy to start (a 503 with
// Retry-After) is asked again after the time it names, a few times, before
// the page says so.

export const API = '/dashboard/api/';

// How often a busy report is asked again, and the longest wait between asks.
const RETRIES = 3;
const LONGEST_WAIT_MS = 10_000;

class ApiError extends Error {
  constructor(status, message, detail, retryAfter) {
    super(message);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

export const isAbort = (e) => e && e.name === 'AbortError';

// What staff are told about a refusal. A request they can change (400 and
// the other 4xx) keeps the server's words, which say what to change; the
// server's trouble gets plain words, never a configuration key.
function plainWords(status, busy, detail) {
  if (status === 503 && busy) {
    return 'Many reports are being prepared at once and this one did not get its turn. Try again in a moment.';
  }
  if (status === 503) {
    return 'This report could not be prepared in time. Try a shorter period or fewer filters; if it keeps happening, tell whoever runs the dashboard.';
  }
  if (status >= 500) {
    return 'The server could not prepare this report. Try again; if it keeps happening, tell whoever runs the dashboard.';
  }
  return detail;
}

// Waits `ms`, or until `signal` aborts (then throws its AbortError).
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new DOMException('The request was replaced.', 'AbortError'));
      return;
    }
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new DOMException('The request was replaced.', 'AbortError'));
      }, { once: true });
    }
  });
}

export async function request(method, path, body, signal) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(method, path, body, signal);
    } catch (e) {
      // Only a read is asked again: a sign-in is the person's to repeat.
      if (method !== 'GET' || e.retryAfter == null || attempt >= RETRIES) throw e;
      await pause(Math.min(e.retryAfter * 1000, LONGEST_WAIT_MS), signal);
    }
  }
}

async function once(method, path, body, signal) {
  const init = { method, headers: { Accept: 'application/json' }, signal, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, 'The server could not be reached. Check the connection and try again.');
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  if (!response.ok) {
    const detail = data && typeof data.error === 'string' && data.error
      ? data.error
      : 'The server answered ' + response.status + (response.statusText ? ' ' + response.statusText : '') + '.';
    const seconds = Number(response.headers.get('Retry-After'));
    const retryAfter = response.status === 503 && response.headers.has('Retry-After') && seconds >= 0 ? seconds : null;
    throw new ApiError(response.status, plainWords(response.status, retryAfter != null, detail), detail, retryAfter);
  }
  return data;
}

// A report's URL: `kind` is a route of /dashboard/api/stats/, `pairs` its
// query, in order (filters repeat).
export function statsUrl(kind, pairs) {
  const q = new URLSearchParams();
  for (const [key, value] of pairs) q.append(key, value);
  return API + 'stats/' + kind + '?' + q.toString();
}
