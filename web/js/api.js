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
// RFC 6902 JSON Patch as the server writes it (add, remove, replace), applied to a copy;
// null when the patch does not fit the document.
export function applyPatch(doc, patch) {
  let root = structuredClone(doc);
  for (const op of patch) {
    const path = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (path.length === 0) {
      if (op.op === 'add' || op.op === 'replace') { root = structuredClone(op.value); continue; }
      return null;
    }
    let parent = root;
    for (const key of path.slice(0, -1)) {
      if (parent === null || typeof parent !== 'object' || !(key in parent)) return null;
      parent = parent[key];
    }
    if (parent === null || typeof parent !== 'object') return null;
    const last = path[path.length - 1];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) return null;
      if (op.op === 'add') parent.splice(i, 0, op.value);
      else if (op.op === 'remove' && i < parent.length) parent.splice(i, 1);
      else if (op.op === 'replace' && i < parent.length) parent[i] = op.value;
      else return null;
    } else if (op.op === 'add' || (op.op === 'replace' && last in parent)) {
      parent[last] = op.value;
    } else if (op.op === 'remove' && last in parent) {
      delete parent[last];
    } else {
      return null;
    }
  }
  return root;
}

export function live(views, onMessage, onState) {
  let lastSeq = null;
  const boards = {};
  let socket = null;
  let stopped = false;
  let delay = 500;
  let syncTimer = null;
  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${proto}//${location.host}/api/v1/live?token=${encodeURIComponent(session.token || '')}`);
    // The pages show tickets from the boards and from GET /tickets/{id}: event frames come
    // without the ticket (a tenth of the bytes at a busy centre's rate).
    const subscribe = (after) => {
      const msg = { type: 'subscribe', tickets: false };
      if (views) msg.views = views;
      if (after !== null) msg.after = after;
      socket.send(JSON.stringify(msg));
    };
    socket.onopen = () => {
      delay = 500;
      subscribe(lastSeq);
      onState && onState(true);
    };
    socket.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (msg.type === 'view') boards[msg.view] = { version: msg.version, data: msg.data };
      if (msg.type === 'view_patch') {
        // A board arrives whole once, then as changes to the version this page holds; a
        // patch to any other version means one was lost: ask for the boards whole again.
        const held = boards[msg.view];
        const data = held && held.version === msg.from ? applyPatch(held.data, msg.patch) : null;
        if (!data) {
          // Counted where a test or a person at the console can read it: it should stay 0.
          const root = document.documentElement.dataset;
          root.boardResyncs = String(Number(root.boardResyncs || 0) + 1);
          delete boards[msg.view];
          subscribe(null);
          return;
        }
        boards[msg.view] = { version: msg.version, data };
        const root = document.documentElement.dataset;
        root.boardPatches = String(Number(root.boardPatches || 0) + 1);
        msg = { type: 'view', view: msg.view, seq: msg.seq, version: msg.version, data };
      }
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
