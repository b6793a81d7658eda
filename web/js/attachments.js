// 附件: a ticket's files (thumbnails for photos, a link for the rest) and the upload box,
// for every page that shows a ticket; and the resident's photos on the public form and the
// tracking page. Files are fetched with the bearer token (an <img src> cannot send it) and
// shown from blob: URLs.
import { t } from './i18n.js';
import { session, ApiError } from './api.js';
import { h, errorText, fmtInstant, toast } from './dom.js';

/** Which purposes each role may choose (the server checks again). */
const PURPOSES = {
  operator: ['intake', 'note'],
  dispatcher: ['note', 'intake'],
  supervisor: ['supervision', 'note'],
  admin: ['supervision', 'note'],
  department: ['reply', 'return', 'extension', 'assist'],
};

const ACCEPT = 'image/jpeg,image/png,image/webp,image/gif,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.rtf,audio/*';

function size(bytes) {
  return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(bytes / 1024)) + ' KB';
}

async function fetchBlob(url, withToken) {
  const headers = {};
  if (withToken && session.token) headers.Authorization = 'Bearer ' + session.token;
  const r = await fetch(url, { headers });
  if (!r.ok) {
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, body);
  }
  return r.blob();
}

/** Sends files as multipart/form-data; answers the added attachments. */
export async function uploadFiles(url, files, fields = {}, withToken = true) {
  const form = new FormData();
  for (const f of files) form.append('file', f, f.name);
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null && v !== '') form.append(k, v);
  const headers = {};
  if (withToken && session.token) headers.Authorization = 'Bearer ' + session.token;
  const r = await fetch(url, { method: 'POST', headers, body: form });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** One file: a thumbnail (photos) or an icon, its name as a download link, who and when. */
function item(a, urls, withToken) {
  const thumb = h('span.att-thumb', a.class === 'image' ? '🖼' : a.class === 'pdf' ? '📄' : a.class === 'audio' ? '🔊' : '📎');
  if (urls.thumbnail) {
    fetchBlob(urls.thumbnail, withToken)
      .then((b) => thumb.replaceChildren(h('img', { src: URL.createObjectURL(b), alt: a.name, loading: 'lazy' })))
      .catch(() => {});
  }
  const link = h('a.att-name', { href: '#', title: a.name }, a.name);
  link.addEventListener('click', async (ev) => {
    ev.preventDefault();
    try {
      const blob = await fetchBlob(urls.file, withToken);
      const url = URL.createObjectURL(blob);
      const save = h('a', { href: url, download: a.name });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  });
  const who = [a.purpose_label || t('att.purpose.' + a.purpose, {}, a.purpose), a.department || a.added_by, fmtInstant(a.added_at, true)]
    .filter(Boolean).join(' · ');
  return h('li.att', { dataset: { id: a.id, cls: a.class } }, thumb,
    h('span.att-text', link, h('span.muted', ` ${size(a.size)}`), h('br'), h('span.muted.att-who', who),
      a.public ? h('span.badge.att-public', t('att.public')) : null));
}

/** A ticket's files and, for staff, the upload box. `onChange` is told after an upload. */
export function attachmentsPanel(ticket, onChange) {
  const box = h('div.attachments#attachments', { dataset: { ticket: String(ticket.id) } });
  const list = h('ul.att-list#att-list');
  const base = `/api/v1/tickets/${ticket.id}/attachments`;
  function render(items) {
    list.replaceChildren(...(items.length ? items.map((a) => item(a, {
      file: `${base}/${a.id}`,
      thumbnail: a.thumbnail_key || a.thumbnail_url ? `${base}/${a.id}/thumbnail` : null,
    }, true)) : [h('li.muted.att-none', t('att.none'))]));
  }
  render(ticket.attachments || []);
  const user = session.user || {};
  const purposes = PURPOSES[user.role] || [];
  box.append(h('h4', t('att.title'), ' ', h('span.muted', `(${(ticket.attachments || []).length})`)), list);
  if (purposes.length && ticket.status !== 'merged') {
    const input = h('input#att-file', { type: 'file', multiple: true, accept: ACCEPT });
    const purpose = h('select#att-purpose', purposes.map((p) => h('option', { value: p }, t('att.purpose.' + p))));
    const pub = h('input#att-public', { type: 'checkbox' });
    const send = h('button#att-upload', { type: 'button' }, t('att.upload'));
    const err = h('span.field-error#att-error', { role: 'alert' });
    send.addEventListener('click', async () => {
      err.textContent = '';
      if (!input.files.length) { err.textContent = t('att.choose'); return; }
      send.disabled = true;
      try {
        await uploadFiles(base, input.files, { purpose: purpose.value, public: pub.checked ? 'true' : 'false' });
        input.value = '';
        const r = await fetch(base, { headers: { Authorization: 'Bearer ' + session.token } });
        if (r.ok) render(await r.json());
        toast(t('att.done'));
        onChange && onChange();
      } catch (e) {
        err.textContent = errorText(e);
      } finally {
        send.disabled = false;
      }
    });
    box.append(h('div.att-upload', input, purpose, h('label.inline', pub, ' ', t('att.makePublic')), send, err));
  }
  return box;
}

/** The resident's public files on the tracking page (no token: number + last-4 in the URL). */
export function publicAttachments(r, last4) {
  if (!r.attachments || !r.attachments.length) return null;
  const base = `/api/v1/public/requests/${encodeURIComponent(r.number)}/attachments`;
  const q = `?phone_last4=${encodeURIComponent(last4)}`;
  return h('div.attachments#track-attachments', h('h4', t('att.title')),
    h('ul.att-list', r.attachments.map((a) => item(a, {
      file: `${base}/${a.id}${q}`,
      thumbnail: a.has_thumbnail ? `${base}/${a.id}/thumbnail${q}` : null,
    }, false))));
}
