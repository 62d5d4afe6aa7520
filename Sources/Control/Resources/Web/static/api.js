// The REST API (/api/v1, see /openapi.json) with the signed-in user's session token.
// Every failure is an APIError carrying the API's {"error":{"code","message","field"}}.

const STORAGE_KEY = 'lookout.session';

export class APIError extends Error {
  constructor(status, code, message, field = null, retryAfter = null) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

let session = readSession();
const listeners = new Set();

function readSession() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (stored && stored.token && Date.parse(stored.expiresAt) > Date.now()) return stored;
  } catch {
    // A damaged entry is as good as none.
  }
  localStorage.removeItem(STORAGE_KEY);
  return null;
}

/** The current session ({token, expiresAt, user}) or null. */
export function currentSession() {
  if (session && Date.parse(session.expiresAt) <= Date.now()) setSession(null);
  return session;
}

/** Stores (or, with null, forgets) the session and tells every listener. */
export function setSession(value) {
  session = value;
  if (value) localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  else localStorage.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener(value);
}

/** Calls `listener(session)` whenever the user signs in or out (in this tab or another). */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener('storage', (event) => {
  if (event.key !== STORAGE_KEY) return;
  session = readSession();
  for (const listener of listeners) listener(session);
});

/**
 * One API call: `path` below /api/v1, `body` sent as JSON. Answers the parsed JSON (null for 204).
 * A 401 with a session signs the user out (the token expired or was revoked).
 */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const active = currentSession();
  if (active) headers.Authorization = `Bearer ${active.token}`;
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new APIError(0, 'network', 'The server cannot be reached. Check your connection; retrying shortly.');
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data?.error ?? {};
    if (response.status === 401 && active && path !== '/auth/login') setSession(null);
    throw new APIError(
      response.status,
      detail.code ?? `http_${response.status}`,
      detail.message ?? response.statusText,
      detail.field ?? null,
      response.headers.get('Retry-After'),
    );
  }
  return data;
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
