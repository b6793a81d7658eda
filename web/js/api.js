// The server: JSON requests with the bearer token, and the live websocket that keeps the
// boards current (resuming after the last sequence number it saw).
import { syncClock } from './dom.js';

const TOKEN = 'hotline.token';
const USER = 'hotline.user';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export const session = {
  get token() { return localStorage.getItem(TOKEN); },
  get user() { try { return JSON.parse(localStorage.getItem(USER)); } catch (_) { return null; } },
  save(token, user) { localStorage.setItem(TOKEN, token); localStorage.setItem(USER, JSON.stringify(user)); },
  clear() { localStorage.removeItem(TOKEN); localStorage.removeItem(USER); },
};

export async function api(method, path, body) {
  const headers = {};
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (r.status === 401 && session.token && !path.startsWith('/api/v1/auth/login')) {
    session.clear();
    location.assign('/login?next=' + encodeURIComponent(location.pathname));
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

/**
 * An endpoint another part of the server may not offer yet: null when the server has no such
 * route (404 no_route, or 405 where a neighbouring path takes another method).
 */
export async function optional(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (e) {
    const code = e.body && e.body.error;
    if ((e.status === 404 && (code === 'no_route' || !code)) || (e.status === 405 && code === 'method_not_allowed')) return null;
    throw e;
  }
}

/**
 * The live socket: calls onMessage(msg) for every frame, onState(true|false) when the
 * connection comes and goes; reconnects with backoff and resumes after the last seq.
 */
export function live(views, onMessage, onState) {
  let lastSeq = null;
  let socket = null;
  let stopped = false;
  let delay = 500;
  let syncTimer = null;
  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${proto}//${location.host}/api/v1/live?token=${encodeURIComponent(session.token || '')}`);
    socket.onopen = () => {
      delay = 500;
      const msg = { type: 'subscribe' };
      if (views) msg.views = views;
      if (lastSeq !== null) msg.after = lastSeq;
      socket.send(JSON.stringify(msg));
      onState && onState(true);
    };
    socket.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (typeof msg.seq === 'number' && msg.type !== 'hello') lastSeq = Math.max(lastSeq || 0, msg.seq);
      if (msg.type === 'hello' && lastSeq === null) lastSeq = msg.seq;
      // A board changed: the countdowns re-read the server's time (a burst of boards, once).
      if (msg.type === 'view' && !syncTimer) syncTimer = setTimeout(() => { syncTimer = null; syncClock(); }, 200);
      onMessage(msg);
    };
    socket.onclose = () => {
      onState && onState(false);
      if (stopped) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
  return { close() { stopped = true; socket && socket.close(); } };
}
