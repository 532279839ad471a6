// Talking to the server: /dashboard/api/* and /dashboard/session on the same
// origin, with the session cookie. A refusal becomes an ApiError carrying
// the server's own message.

export const API = '/dashboard/api/';

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const isAbort = (e) => e && e.name === 'AbortError';

export async function request(method, path, body, signal) {
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
    const message = data && typeof data.error === 'string' && data.error
      ? data.error
      : 'The server answered ' + response.status + (response.statusText ? ' ' + response.statusText : '') + '.';
    throw new ApiError(response.status, message);
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
