// Small DOM helpers: an element builder, time formatting against the server's clock,
// toasts, and the ticket clock widget every page shares.
import { t, lang } from './i18n.js';

/** h('div.card#id', {attrs / onclick / dataset}, ...children) */
export function h(spec, attrs, ...children) {
  const tag = (spec.match(/^[a-z][a-z0-9]*/i) || ['div'])[0];
  const id = (spec.match(/#([\w-]+)/) || [])[1];
  const classes = [...spec.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  const el = document.createElement(tag);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Text that may be long: one line with an ellipsis, the whole text on hover. */
export function clip(text, cls = '') {
  return h('span.clip' + (cls ? '.' + cls : ''), { title: text || '' }, text || '');
}

// The server may run on another clock than the browser (tests move it): every countdown is
// counted against the server's time, re-read now and then.
let skew = 0;
export async function syncClock() {
  try {
    const t0 = Date.now();
    const r = await fetch('/api/v1/clock', { cache: 'no-store' });
    const t1 = Date.now();
    const { now } = await r.json();
    skew = Date.parse(now) - (t0 + t1) / 2;
  } catch (_) { /* keep the last skew */ }
}
export function serverNow() { return Date.now() + skew; }

const pad = (n) => String(n).padStart(2, '0');
/** 2026-11-30 17:30 in Beijing time, whatever the browser's zone. */
export function fmtInstant(iso, withYear = false) {
  if (!iso) return '';
  const d = new Date(Date.parse(iso) + 8 * 3600e3);
  const date = `${withYear ? d.getUTCFullYear() + '-' : ''}${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** 1天3小时 / 2:05:09 left, or 超时 … */
export function fmtLeft(ms) {
  const late = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60); s -= mm * 60;
  const body = d > 0 ? t('time.dh', { d, h: hh }) : `${hh}:${pad(mm)}:${pad(s)}`;
  return late ? t('clock.late', { t: body }) : t('clock.left', { t: body });
}

/** running / warning / overdue / paused / stopped → a colour class; the instant decides red. */
export function clockClass(state, atIso) {
  if (state === 'paused' || state === 'stopped') return 'grey';
  if (state === 'overdue' || (atIso && Date.parse(atIso) < serverNow())) return 'red';
  if (state === 'warning') return 'yellow';
  return 'green';
}

const UNITS = { wd: 'working day', wh: 'working hour', h: 'hour', d: 'day', m: 'minute' };
const UNITS_ZH = { wd: '个工作日', wh: '个工作小时', h: '小时', d: '天', m: '分钟' };
/** The limit in words: `5个工作日`, or `5 working days` in English, from `5wd`. */
export function limitText(deadline) {
  if (!deadline) return '';
  const m = /^(\d+)(wd|wh|h|d|m)$/.exec(deadline.duration || '');
  if (m && lang === 'en') return `${m[1]} ${UNITS[m[2]]}${m[1] === '1' ? '' : 's'}`;
  if (m && !deadline.label) return m[1] + UNITS_ZH[m[2]];
  return deadline.label || deadline.duration || '';
}

/** A clock: stage and limit (unit), the instant, and a live countdown. */
export function clockChip(c) {
  const at = c.deadline?.at;
  const left = h('span.left', { dataset: { due: at || '' } });
  const chip = h('span.clock', { dataset: { state: c.state, due: at || '' }, title: c.deadline_text || '' },
    // An assisting unit's reply clock reads like the lead's without its owner.
    h('b', (c.owner === 'assist' ? t('owner.assist') + ' ' : '') + (c.stage_label ? t('stage.' + c.stage, {}, c.stage_label) : '')), ' ',
    h('span.unit', limitText(c.deadline)), ' ',
    h('span.at', t('clock.due', { at: fmtInstant(at) })), ' ', left);
  tickChip(chip);
  return chip;
}

function tickChip(chip) {
  const at = chip.dataset.due;
  const state = chip.dataset.state;
  chip.className = 'clock ' + clockClass(state, at);
  const left = chip.querySelector('.left');
  if (!at || state === 'stopped') { left.textContent = ''; return; }
  if (state === 'paused') { left.textContent = t('clock.paused'); return; }
  left.textContent = fmtLeft(Date.parse(at) - serverNow());
}

setInterval(() => document.querySelectorAll('.clock').forEach(tickChip), 1000);

export function toast(message, kind = 'info') {
  const el = h('div.toast.' + kind, { role: kind === 'error' ? 'alert' : 'status' }, message);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

const HAN = /[\u3400-\u9fff]/;
/**
 * An API failure in the page's language: the field it names, and the server's sentence when
 * it is in the page's language (the API's English sentences are for integrators), else the
 * page's own words for what went wrong (the full sentence stays in the console log).
 */
export function errorText(e) {
  if (!e || !e.status) return String(e && e.message || e);
  const b = e.body || {};
  const field = b.field ? t('field.' + b.field, {}, b.field) : '';
  const message = b.message || '';
  const sameLanguage = message && (lang === 'en' ? !HAN.test(message) : HAN.test(message));
  if (!sameLanguage && message) console.info('server:', message);
  const generic = t('http.' + e.status, {}, t('http.other'));
  const own = !sameLanguage && field && (e.status === 422 || e.status === 400) ? t('msg.fieldInvalid', { f: field }) : '';
  const text = sameLanguage ? `${generic} — ${message}` : own || generic;
  return field && !own ? `${field}：${text}` : text;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function statusLabel(ticket) {
  return t('status.' + ticket.status, {}, ticket.status_label || ticket.status);
}

/**
 * A modal form: resolves with the form's values, or null when cancelled (Esc). A dialog that
 * only shows something (`{ cancel: false }`) has one button, 关闭. A field may be a search
 * box (picker.js: its `.value` is the choice) and may name a `check` that returns what is
 * wrong with it: the dialog then says so, in its own words, and stays open.
 */
export function dialog(title, fields, submitLabel, { cancel = true } = {}) {
  return new Promise((resolve) => {
    const error = h('p.field-error#dialog-error', { role: 'alert', hidden: true });
    const form = h('form.dialog', { method: 'dialog' },
      h('h3', title),
      fields.map((f) => h('label.field', h('span', f.label), f.input)),
      error,
      h('div.actions',
        h('button.primary', { type: 'submit' }, submitLabel || t('common.ok')),
        cancel ? h('button', { type: 'button', onclick: () => close(null) }, t('common.cancel')) : null));
    const dlg = h('dialog', form);
    const close = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    const focusable = (input) => input.input || input;
    // What was wrong goes once the field changes (a unit taken from the list).
    for (const f of fields.filter((x) => x.check)) {
      focusable(f.input).addEventListener('change', () => {
        if (!f.check(f.input.value)) { error.hidden = true; focusable(f.input).removeAttribute('aria-invalid'); }
      });
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      for (const f of fields) {
        const wrong = f.check && f.check(f.input.value);
        focusable(f.input).toggleAttribute('aria-invalid', !!wrong);
        if (wrong) {
          error.textContent = wrong;
          error.hidden = false;
          focusable(f.input).focus();
          return;
        }
      }
      const values = {};
      for (const f of fields) values[f.name] = f.input.type === 'checkbox' ? f.input.checked : f.input.value;
      close(values);
    });
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(null); });
    document.body.append(dlg);
    dlg.showModal();
    const first = fields[0] && fields[0].input;
    if (first) focusable(first).focus();
  });
}
